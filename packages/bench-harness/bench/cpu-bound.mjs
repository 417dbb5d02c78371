// CPU-bound workload for the process-isolation measurement in harness.bench.ts. Plain JS so the
// child processes need no TypeScript loader.
function cpuBound(n) {
  let s = 0;
  for (let i = 0; i < n; i++) s = (Math.imul(s, 31) + i) | 0;
  return s;
}

export const benches = {
  cpu: () => cpuBound(20_000),
};
