// Starts fauxqs (an SQS emulator) listening on 127.0.0.1 only. Usage:
//   node fauxqs.mjs <port>
// Prints "ready <port>" once it listens.
const { buildApp } = await import(new URL("../../node_modules/fauxqs/dist/app.js", import.meta.url));

const port = Number(process.argv[2] ?? 0);
const app = buildApp({ logger: false });
const address = await app.listen({ host: "127.0.0.1", port });
console.log(`ready ${new URL(address).port}`);
const stop = async () => { await app.close(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
