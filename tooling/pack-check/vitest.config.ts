import { peaktradeProject } from '@peaktrade/vitest-config';

// Packing and installing every package is slow; give it room.
export default peaktradeProject('pack-check', { test: { testTimeout: 600_000 } });
