#!/usr/bin/env bash
# Validates deploy/*.yaml offline (no cluster): installs the npm packages kubernetes-models, yaml and typescript into a
# temporary folder and runs tools/validate-deploy.mjs there. Needs Node.js and npm.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/distilbert-validate-deploy-XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
printf '{ "private": true, "type": "module" }\n' > package.json
npm install --silent --no-audit --no-fund kubernetes-models@5.1.0 yaml@2.9.1 typescript@7.0.2 >/dev/null
cp "$repo/tools/validate-deploy.mjs" .
node validate-deploy.mjs "$repo/deploy"
