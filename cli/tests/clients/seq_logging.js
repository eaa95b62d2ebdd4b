// Sends events with npm's seq-logging (the Seq client Node services use) and exits 0 only
// once the client reports them shipped: `node seq_logging.js URL KEY COUNT`.
(async () => {
// seq-logging 3 is an ES module; NODE_PATH (set by the test) is honoured by require.resolve only.
const { pathToFileURL } = require('url');
const { Logger } = await import(pathToFileURL(require.resolve('seq-logging')).href);
const [url, apiKey, count] = process.argv.slice(2);
let failed = null;
const logger = new Logger({
  serverUrl: url,
  apiKey,
  maxBatchingTime: 50,
  onError: (e) => { failed = e; },
});
for (let n = 0; n < Number(count); n++) {
  logger.emit({
    timestamp: new Date(Date.UTC(2026, 11, 8, 10, 0, 0, n)),
    level: n % 2 ? 'Warning' : 'Information',
    messageTemplate: 'Node payment {PaymentId} of {Amount}',
    properties: { PaymentId: `p-${n}`, Amount: n * 1.5, Client: 'seq-logging' },
  });
}
logger.close().then(() => {
  if (failed) { console.error(`seq-logging reported: ${failed}`); process.exit(1); }
  console.log(`shipped ${count}`);
}, (e) => { console.error(`close failed: ${e}`); process.exit(1); });
})();
