import type { UserWorkspaceConfig } from 'vitest/config';
export declare function peaktradeProject(
  name: string,
  overrides?: UserWorkspaceConfig,
): UserWorkspaceConfig;
