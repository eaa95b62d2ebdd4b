//! `export --format parquet`: one row per event, in row groups of bounded size.
//!
//! Compiled only with the `parquet` feature (see cli/Cargo.toml), so a plain build of the CLI
//! does not build arrow and parquet. The schema, and why each column has its type, is in
//! docs/cli.md ("Parquet"); [`schema`] is the single place that defines it.
//
// Memory: rows go into arrow builders until a batch holds `BATCH_ROWS_MAX` rows or
// `BATCH_BYTES_MAX` bytes of text, then the batch is written and closed as one row group
// (`ArrowWriter::flush`). So at most one batch and one encoded row group are in memory, whatever
// the length of the log. The byte bound matters because a row can carry a record body of up to
// 16 MiB (`RECORD_BODY_HARD_MAX`): 64k such rows would not fit in memory.

use std::fs::File;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, FixedSizeBinaryBuilder, StringBuilder, TimestampNanosecondBuilder,
    UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use mtlog_audit::StoredEvent;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

/// Rows in one record batch, and so at most in one row group.
pub const BATCH_ROWS_MAX: usize = 64 * 1024;
/// Text bytes (message, template, properties, exception) after which a batch is cut early.
pub const BATCH_BYTES_MAX: usize = 64 << 20;
/// Bytes in a chain hash, the width of the `chain_hash` column.
const CHAIN_HASH_LEN: i32 = 32;

const _: () = assert!(BATCH_ROWS_MAX > 0);
const _: () = assert!(BATCH_BYTES_MAX > 0);

/// A Parquet file being written, one row per event.
pub struct ParquetExport {
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    batch: Batch,
}

impl ParquetExport {
    /// Starts a Parquet file in `file` (Snappy pages, dictionary encoding on `level` and
    /// `template` only: the other columns are mostly distinct per row).
    pub fn create(file: File) -> Result<Self, ParquetError> {
        let schema = schema();
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(BATCH_ROWS_MAX))
            .set_dictionary_enabled(false)
            .set_column_dictionary_enabled(ColumnPath::from("level"), true)
            .set_column_dictionary_enabled(ColumnPath::from("template"), true)
            .build();
        let writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(properties))?;
        Ok(Self { writer, schema, batch: Batch::new() })
    }

    /// Adds one event; `properties` is its properties as a JSON object (the CSV column's text).
    pub fn append(&mut self, e: &StoredEvent, properties: &str) -> Result<(), ParquetError> {
        self.batch.append(e, properties)?;
        if self.batch.rows >= BATCH_ROWS_MAX || self.batch.text_bytes >= BATCH_BYTES_MAX {
            self.write_batch()?;
        }
        assert!(self.batch.rows < BATCH_ROWS_MAX);
        Ok(())
    }

    /// Writes the last batch and the file footer. Without this the file is not valid Parquet.
    pub fn finish(mut self) -> Result<(), ParquetError> {
        self.write_batch()?;
        self.writer.close()?;
        Ok(())
    }

    /// Writes the buffered rows as one row group and starts an empty batch.
    fn write_batch(&mut self) -> Result<(), ParquetError> {
        if self.batch.rows == 0 {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.batch, Batch::new());
        let rows = full.rows;
        let batch = full.finish(Arc::clone(&self.schema))?;
        assert_eq!(batch.num_rows(), rows);
        self.writer.write(&batch)?;
        self.writer.flush()?;
        assert_eq!(self.writer.in_progress_rows(), 0);
        Ok(())
    }
}

/// The export's columns, in order. Every column but `exception` is always present.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("seq", DataType::UInt64, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("level", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
        Field::new("template", DataType::Utf8, false),
        Field::new("event_id", DataType::Utf8, false),
        Field::new("chain_hash", DataType::FixedSizeBinary(CHAIN_HASH_LEN), false),
        Field::new("clock_adjusted", DataType::Boolean, false),
        Field::new("properties", DataType::Utf8, false),
        Field::new("exception", DataType::Utf8, true),
    ]))
}

/// One column builder per field of [`schema`], in the same order.
struct Batch {
    seq: UInt64Builder,
    timestamp: TimestampNanosecondBuilder,
    level: StringBuilder,
    message: StringBuilder,
    template: StringBuilder,
    event_id: StringBuilder,
    chain_hash: FixedSizeBinaryBuilder,
    clock_adjusted: BooleanBuilder,
    properties: StringBuilder,
    exception: StringBuilder,
    rows: usize,
    text_bytes: usize,
}

impl Batch {
    fn new() -> Self {
        Self {
            seq: UInt64Builder::new(),
            timestamp: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            level: StringBuilder::new(),
            message: StringBuilder::new(),
            template: StringBuilder::new(),
            event_id: StringBuilder::new(),
            chain_hash: FixedSizeBinaryBuilder::new(CHAIN_HASH_LEN),
            clock_adjusted: BooleanBuilder::new(),
            properties: StringBuilder::new(),
            exception: StringBuilder::new(),
            rows: 0,
            text_bytes: 0,
        }
    }

    fn append(&mut self, e: &StoredEvent, properties: &str) -> Result<(), ParquetError> {
        let exception = e.event.exception.as_deref();
        self.seq.append_value(e.seq);
        self.timestamp.append_value(e.event.timestamp_nanos); // the event's own, as CSV's
        self.level.append_value(e.event.level.as_str());
        self.message.append_value(&e.event.message);
        self.template.append_value(&e.event.template);
        self.event_id.append_value(e.event.id.to_string());
        self.chain_hash.append_value(e.chain_hash)?;
        self.clock_adjusted.append_value(e.clock_adjusted);
        self.properties.append_value(properties);
        self.exception.append_option(exception);
        self.rows += 1;
        self.text_bytes += e.event.message.len()
            + e.event.template.len()
            + properties.len()
            + exception.map_or(0, str::len);
        Ok(())
    }

    fn finish(mut self, schema: SchemaRef) -> Result<RecordBatch, ParquetError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.seq.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.level.finish()),
            Arc::new(self.message.finish()),
            Arc::new(self.template.finish()),
            Arc::new(self.event_id.finish()),
            Arc::new(self.chain_hash.finish()),
            Arc::new(self.clock_adjusted.finish()),
            Arc::new(self.properties.finish()),
            Arc::new(self.exception.finish()),
        ];
        // try_new checks each column's type, nullability and length against the schema.
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtlog_audit::wal::format::SegmentId;
    use mtlog_audit::{Event, EventId, Level};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn stored(seq: u64, message: String) -> StoredEvent {
        let mut event =
            Event::new(EventId([seq as u8; 16]), seq as i64, Level::Information, "{Text}");
        event.message = message;
        StoredEvent {
            seq,
            timestamp_nanos: seq as i64,
            clock_adjusted: false,
            chain_hash: [seq as u8; 32],
            segment: SegmentId(1),
            offset: 0,
            event,
        }
    }

    /// Writes `events` to a fresh file; returns the rows of each row group and every seq read.
    fn write_and_read(events: impl Iterator<Item = StoredEvent>) -> (Vec<i64>, Vec<u64>) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("out.parquet");
        let mut export = ParquetExport::create(File::create(&path).unwrap()).unwrap();
        for e in events {
            export.append(&e, "{}").unwrap();
        }
        export.finish().unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        let groups = builder.metadata().row_groups().iter().map(|g| g.num_rows()).collect();
        let mut seqs = Vec::new();
        for batch in builder.build().unwrap() {
            let batch = batch.unwrap();
            let column = batch.column_by_name("seq").unwrap();
            let column = column.as_any().downcast_ref::<arrow_array::UInt64Array>().unwrap();
            seqs.extend(column.values().iter().copied());
        }
        (groups, seqs)
    }

    #[test]
    fn a_long_export_is_cut_into_row_groups_of_at_most_batch_rows_max() {
        // Goal: memory stays bounded however long the log is. Method: one row more than the
        // bound must give a full row group and a row group of one, with every seq in order.
        let count = BATCH_ROWS_MAX as u64 + 1;
        let (groups, seqs) = write_and_read((1..=count).map(|seq| stored(seq, String::new())));
        assert_eq!(groups, vec![BATCH_ROWS_MAX as i64, 1]);
        assert_eq!(seqs, (1..=count).collect::<Vec<_>>());
    }

    #[test]
    fn large_rows_cut_a_row_group_early_at_batch_bytes_max() {
        // Goal: a row count alone does not bound memory when rows carry big bodies. Method:
        // rows a quarter of the byte bound each; the fourth row reaches it, so five rows make
        // groups of four and one.
        let quarter = "x".repeat(BATCH_BYTES_MAX / 4);
        let (groups, seqs) = write_and_read((1..=5).map(|seq| stored(seq, quarter.clone())));
        assert_eq!(groups, vec![4, 1]);
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn exception_text_is_kept_and_its_absence_is_null() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.parquet");
        let mut export = ParquetExport::create(File::create(&path).unwrap()).unwrap();
        let mut failed = stored(1, "failed".into());
        failed.event.exception = Some("disk full\n  at write".into());
        export.append(&failed, "{}").unwrap();
        export.append(&stored(2, "ok".into()), "{}").unwrap();
        export.finish().unwrap();
        let mut reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let batch = reader.next().unwrap().unwrap();
        let column = batch.column_by_name("exception").unwrap();
        let column = column.as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
        let values: Vec<Option<&str>> = column.iter().collect();
        assert_eq!(values, vec![Some("disk full\n  at write"), None]);
    }

    #[test]
    fn an_export_of_no_events_is_a_valid_file_with_the_schema() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("empty.parquet");
        ParquetExport::create(File::create(&path).unwrap()).unwrap().finish().unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        assert_eq!(builder.metadata().num_row_groups(), 0);
        assert_eq!(builder.schema().fields(), schema().fields());
    }
}
