// Child process of http1.test.ts: one GET through the built-in client with a 60 s idle timeout,
// then nothing. The process must exit at once: idle keep-alive connections are unreferenced.
import { Http1Agent } from '../src/sources/http1.js';

const port = Number(process.argv[2]);
const agent = new Http1Agent({ idleTimeoutMs: 60_000 });
const response = await agent.get(new URL(`http://127.0.0.1:${port}/child`), {
  headerLines: '',
  signal: new AbortController().signal,
  acquire: (size) => Buffer.alloc(size),
  release: () => {},
});
console.log(Buffer.from(response.body!).toString(), agent.idleConnections);
