#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the committed fixtures in testdata/ (golden and corrupt logs,
# the CLEF export), so every target starts from real, valid inputs instead of from nothing.
# Idempotent: seeds are named after what they came from; libFuzzer adds its own files beside
# them. fuzz/corpus/ is not committed (.gitignore); the fixtures it comes from are.
#
#   fuzz/seed-corpora.sh            # from anywhere in the repository
set -euo pipefail
cd "$(dirname "$0")"
testdata=../testdata
corpus=corpus
mkdir -p "$corpus"/{record,segment_scan,crafted_records,event_body,clef,options,wal_ops,checkpoint,note,proof}

# crafted_records: 24 bytes per record, all zero = an honest event chained from genesis; one
# seed of ten honest events, one whose fourth record claims seq u64::MAX (byte 1 = 3).
head -c 240 /dev/zero > "$corpus/crafted_records/ten-honest-events"
{ head -c 73 /dev/zero; printf '\003'; head -c 166 /dev/zero; } > "$corpus/crafted_records/seq-max-fourth"

# Little-endian unsigned integer of width $3 bytes at offset $2 of file $1.
le() { od -An -t "u$3" -j "$2" -N "$3" "$1" | tr -d ' \n'; }
# $3 bytes at offset $2 of file $1.
bytes() { dd if="$1" iflag=skip_bytes,count_bytes bs=4096 skip="$2" count="$3" 2>/dev/null; }

while IFS= read -r -d '' seg; do
  name=$(echo "${seg#"$testdata"/}" | tr '/' '_')
  size=$(stat -c %s "$seg")
  # segment_scan: the whole segment file.
  cp "$seg" "$corpus/segment_scan/$name"
  # wal_ops: any bytes will do as a start; the first KiB of a segment is as good as any.
  bytes "$seg" 0 1024 > "$corpus/wal_ops/$name"
  # record and event_body: walk the records from offset 64 (header 96 bytes, body, padding
  # to 8); each record, and each event record's body, is a seed. The golden logs hold every
  # kind of record; the corrupt ones would add near-duplicates.
  case "$seg" in "$testdata/golden/"*) off=64 ;; *) off=$size ;; esac
  while [ $((off + 96)) -le "$size" ] && [ "$(bytes "$seg" "$off" 4 | tr -d '\0')" = "MTR1" ]; do
    len=$(le "$seg" $((off + 8)) 4)
    kind=$(le "$seg" $((off + 12)) 1)
    framed=$(( (96 + len + 7) / 8 * 8 ))
    bytes "$seg" "$off" "$framed" > "$corpus/record/$name@$off"
    if [ "$kind" = 1 ]; then
      bytes "$seg" $((off + 96)) "$len" > "$corpus/event_body/$name@$off"
    fi
    off=$((off + framed))
  done
done < <(find "$testdata/golden" "$testdata/corrupt" -name '*.wal' -print0 | sort -z)

# clef: one seed per exported line.
i=0
while IFS= read -r line; do
  i=$((i + 1))
  printf '%s' "$line" > "$corpus/clef/events-$i.clef"
done < "$testdata/clef/events.clef"

# options: five little-endian u64s (segment bytes, body max, batch max, queue max, delay µs).
perl -e 'print pack("Q<5", 32 << 20, 1 << 20, 4096, 65536, 0)' > "$corpus/options/defaults"
perl -e 'print pack("Q<5", 8192, 2048, 1, 1, 1000000)' > "$corpus/options/small"
perl -e 'print pack("Q<5", 4096, 3808, 1, 1, 0)' > "$corpus/options/tightest"

# note, checkpoint: the committed signed checkpoint, and its text alone.
cp "$testdata/checkpoint/closed.note" "$corpus/note/closed.note"
sed '/^$/,$d' "$testdata/checkpoint/closed.note" > "$corpus/checkpoint/closed.body"
# proof: an inclusion claim (index 3 of 8) and a consistency claim (3 of 8), zero hashes.
perl -e 'print pack("Q<2", 3, 8), "\0" x 160' > "$corpus/proof/claim-3-of-8"
perl -e 'print pack("Q<2", 7, 200), "\xff" x 64' > "$corpus/proof/claim-7-of-200"

for t in record segment_scan event_body clef options wal_ops checkpoint note proof; do
  printf '%-13s %5d seeds\n' "$t" "$(find "$corpus/$t" -type f | wc -l)"
done
