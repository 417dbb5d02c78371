// Task module for the worker-pool stress run (loaded by worker threads from dist/).

/** Burn 20,000 loop steps of CPU and return a checksum of the input. */
export function spin(item: number): number {
  let acc = item;
  for (let i = 0; i < 20_000; i++) acc = (acc * 1_103_515_245 + 12_345) % 2_147_483_648;
  return acc;
}
