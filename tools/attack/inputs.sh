#!/usr/bin/env bash
# Hostile inputs of the "inputs" area: huge texts for truncation and windows, command lines that do not parse, files
# in another task's format, invalid UTF-8, options that do not apply. Prints one markdown row per case:
# | area | hostile input | exit code | first stderr line | seconds | peak RSS MiB |
# Usage: tools/attack/inputs.sh path/to/DistilBert.Cli.dll   (builds nothing; needs python3 and GNU time)
set -u
cli=${1:?usage: inputs.sh path/to/DistilBert.Cli.dll}
cli=$(realpath "$cli")
teacher="$(dirname "$cli")/defaults/sentiment-teacher"   # copied beside the CLI by its build
[ -f "$teacher/vocab.txt" ] || { echo "no $teacher/vocab.txt beside the CLI" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Random-weight QA, NER and masked-LM models (DistilBERT, 2 layers, dim 128, 512 positions), the teacher's vocabulary.
for head in QuestionAnswering TokenClassification MaskedLM; do
    cat > "$work/$head.json" <<EOF
{"architectures": ["DistilBertFor$head"], "model_type": "distilbert", "dim": 128, "n_layers": 2, "n_heads": 4,
 "hidden_dim": 512, "max_position_embeddings": 512, "vocab_size": 30522,
 "id2label": {"0": "O", "1": "B-PER", "2": "I-PER"}, "label2id": {"O": 0, "B-PER": 1, "I-PER": 2}}
EOF
    dotnet "$cli" init --config "$work/$head.json" --out "$work/$head" > /dev/null
    cp "$teacher/vocab.txt" "$teacher/tokenizer_config.json" "$work/$head/"
done

python3 - "$work" <<'EOF'
import random, sys
work = sys.argv[1]
random.seed(1)
words = "alice moved to paris in the year of the great river bank with a cat".split()
text = " ".join(random.choice(words) for _ in range(200_000))[:1_000_000]
open(f"{work}/context-1mb.txt", "w").write(text)
open(f"{work}/line-1mb.txt", "w").write(text + "\n")
open(f"{work}/line-20mb.txt", "w").write((text * 20) + "\n")
open(f"{work}/sst2-validation.tsv", "w").write("sentence\tlabel\nit 's a charming and often affecting journey . \t1\n"
                                               "unflinchingly bleak and desperate \t0\n")
open(f"{work}/unlabelled.tsv", "w").write("sentence\tlabel\nwhat a film \t\nnice\n")
open(f"{work}/lines.txt", "w").write("hello\nworld\n")
open(f"{work}/comma-in-text.csv", "w").write("sentence,label\nhello, world,1\nfine,0\n")
open(f"{work}/squad-flattened.json", "w").write('{"data": [{"id": "1", "title": "t", "context": "c", "question": "q", '
                                                '"answers": {"text": ["c"], "answer_start": [0]}}]}\n')
open(f"{work}/bad-utf8.txt", "wb").write(b"fine\ngood\xff movie\n")
EOF

row() { # description, then the CLI arguments
    local what=$1; shift
    /usr/bin/time -f '%e %M' -o "$work/time" timeout 60 dotnet "$cli" "$@" > /dev/null 2> "$work/err"
    local code=$?
    local first seconds rss
    first=$(head -n 1 "$work/err" | cut -c 1-100 | sed 's/|/\\|/g')
    read -r seconds rss < <(tail -n 1 "$work/time")
    echo "| inputs | $what | $code | $first | $seconds | $((rss / 1024)) |"
}

qa="$work/QuestionAnswering"; ner="$work/TokenClassification"
row "qa: 1 MB context (--context-file)" qa -m "$qa" --context-file "$work/context-1mb.txt" "Who moved?"
row "ner: one 1 MB line" ner -m "$ner" --input "$work/line-1mb.txt" --json
row "classify: one 20 MB line (truncated, runs)" classify -m "$teacher" --input "$work/line-20mb.txt" --json
row "fill-mask: 1 MB text without [MASK]" fill-mask -m "$work/MaskedLM" --input "$work/line-1mb.txt"
row "classify --batch-size abc" classify -m "$teacher" --batch-size abc "a text"
row "unknown command" frobnicate
row "classify without --model" classify "a text"
row "classify --bogus (unknown option)" classify -m "$teacher" --bogus "a text"
row "train ner on SST-2's tsv" train ner --model "$ner" --train "$work/sst2-validation.tsv" --out "$work/ner-run"
row "classify .txt --column 5" classify -m "$teacher" --input "$work/lines.txt" --column 5
row "classify csv with an unquoted comma" classify -m "$teacher" --input "$work/comma-in-text.csv"
row "classify invalid UTF-8 (byte 0xFF)" classify -m "$teacher" --input "$work/bad-utf8.txt"
row "classify tsv rows without labels (runs)" classify -m "$teacher" --input "$work/unlabelled.tsv" --json
row "eval on tsv rows without labels" eval -m "$teacher" --task classify --data "$work/unlabelled.tsv"
row "eval qa on HF's flattened SQuAD json" eval -m "$qa" --task qa --data "$work/squad-flattened.json"
