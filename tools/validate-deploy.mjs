// Checks every document of deploy/*.yaml offline against the Kubernetes API schemas of the npm package
// kubernetes-models, twice: its generated JSON-schema validators (types, enums, required fields), and TypeScript's
// excess-property check of each document as a typed object literal (field names, at every depth, which the
// validators let through). Run it through tools/validate-deploy.sh, which installs both packages.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execFileSync } from "node:child_process";
import { parseAllDocuments } from "yaml";
import * as core from "kubernetes-models/v1";
import * as apps from "kubernetes-models/apps/v1";
import * as batch from "kubernetes-models/batch/v1";
import * as autoscaling from "kubernetes-models/autoscaling/v2";

const models = { "v1": [core, "v1"], "apps/v1": [apps, "apps/v1"], "batch/v1": [batch, "batch/v1"], "autoscaling/v2": [autoscaling, "autoscaling/v2"] };
const folder = resolve(process.argv[2] ?? "deploy");
let failures = 0, checked = 0;
const typed = [];
for (const file of readdirSync(folder).filter(f => /\.ya?ml$/.test(f)).sort()) {
  const path = join(folder, file);
  for (const document of parseAllDocuments(readFileSync(path, "utf8"))) {
    if (document.errors.length) { console.error(`${path}: ${document.errors[0].message}`); failures++; continue; }
    const object = document.toJS();
    if (object === null) continue; // a comment-only document
    const where = `${path}: ${object.kind}/${object.metadata?.name}`;
    const [group, module] = models[object.apiVersion] ?? [];
    const model = group?.[object.kind];
    if (!model) { console.error(`${where}: no schema for ${object.apiVersion} ${object.kind}`); failures++; continue; }
    try { new model(object).validate(); checked++; console.log(`schema ok: ${where}`); }
    catch (e) { console.error(`${where}: ${e.message}`); failures++; }
    typed.push(`// ${where}\nimport type { I${object.kind} as T${typed.length} } from "kubernetes-models/${module}/${object.kind}";\n` +
      `export const d${typed.length}: T${typed.length} = ${JSON.stringify(object, null, 1)};\n`);
  }
}
writeFileSync("manifests.ts", typed.join("\n"));
try {
  execFileSync("npx", ["tsc", "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "manifests.ts"], { stdio: "pipe" });
  console.log(`field names ok: ${typed.length} documents`);
} catch (e) {
  console.error(`field names: TypeScript refused manifests.ts (the comment above each declaration names its file):\n${e.stdout}`);
  failures++;
}
console.log(`${checked} valid, ${failures} invalid`);
process.exit(failures === 0 && checked > 0 ? 0 : 1);
