"""Sends events with PyPI's seqlog (the Seq client Python services use) and exits 0 only once
every one was posted without error: `python seqlog_client.py URL KEY COUNT clef|json`.

seqlog queues records for a consumer thread that posts them in batches, and reports a failed
POST through logging's handleError. The handler below counts what was posted and records any
error, so "shipped" means the client saw every batch accepted."""
import logging
import sys
import time

from seqlog import FeatureFlag, SeqLogHandler, StructuredLogger, configure_feature

url, api_key, count, shape = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
errors = []
posted = [0]


class Counting(SeqLogHandler):
    def publish_log_batch(self, batch):
        super().publish_log_batch(batch)
        posted[0] += len(batch)

    def handleError(self, record):
        errors.append(sys.exc_info()[1])


configure_feature(FeatureFlag.USE_CLEF, shape == "clef")
logging.setLoggerClass(StructuredLogger)
handler = Counting(server_url=url, api_key=api_key, batch_size=10, auto_flush_timeout=0.05)
logger = logging.getLogger("payments")
logger.setLevel(logging.INFO)
logger.addHandler(handler)
logger.propagate = False
for n in range(count):
    logger.log(
        logging.WARNING if n % 2 else logging.INFO,
        "Python payment {PaymentId} of {Amount}",
        PaymentId="p-%d" % n,
        Amount=n * 1.5,
    )
deadline = time.monotonic() + 30
while posted[0] < count and not errors and time.monotonic() < deadline:
    handler.flush()
    time.sleep(0.02)
handler.close()
if errors or posted[0] != count:
    print("seqlog posted %d of %d, errors: %r" % (posted[0], count, errors), file=sys.stderr)
    sys.exit(1)
print("shipped %d" % count)
