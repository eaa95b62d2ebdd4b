// Sends events with winston and @datalust/winston-seq (Datalust's winston transport) and exits
// 0 only once the transport's flush resolved with no error reported:
// `node winston_seq.js URL KEY COUNT`.
(async () => {
const { pathToFileURL } = require('url');
const load = (name) => import(pathToFileURL(require.resolve(name)).href);
const winston = (await load('winston')).default;
const { SeqTransport } = await load('@datalust/winston-seq');
const [url, apiKey, count] = process.argv.slice(2);
let failed = null;
const seq = new SeqTransport({ serverUrl: url, apiKey, onError: (e) => { failed = e; } });
const logger = winston.createLogger({ level: 'info', transports: [seq] });
for (let n = 0; n < Number(count); n++) {
  logger.log(n % 2 ? 'warn' : 'info', 'Winston payment {PaymentId} of {Amount}', {
    PaymentId: `p-${n}`,
    Amount: n * 1.5,
  });
}
await new Promise((resolve) => setImmediate(resolve)); // let winston hand every event over
await seq.flush();
seq.close();
if (failed) { console.error(`winston-seq reported: ${failed}`); process.exit(1); }
console.log(`shipped ${count}`);
})();
