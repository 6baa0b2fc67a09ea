// Validates prometheus-operator objects (ServiceMonitor, PrometheusRule)
// with the schemas of the npm package @kubernetes-models/prometheus-operator
// (generated from prometheus-operator's Go API types): `new Kind(obj).validate()`.
// Run by scripts/check-kubernetes from target/k8s-check/node, where the
// pinned package is installed (package.json, package-lock.json beside this).
//   node validate-monitoring.mjs OBJECTS.json
// OBJECTS.json: [{"source": "<where it came from>", "object": {...}}, ...]
// Prints one line per object; exits 1 if any is invalid or of another kind.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import {
  PrometheusRule,
  ServiceMonitor,
} from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const require = createRequire(import.meta.url);
const { version } = require("@kubernetes-models/prometheus-operator/package.json");
const models = { PrometheusRule, ServiceMonitor };

const entries = JSON.parse(readFileSync(process.argv[2], "utf8"));
let failed = 0;
for (const { source, object } of entries) {
  const what = `${source}: ${object.kind}/${object.metadata?.name}`;
  const Model = models[object.kind];
  if (!Model || object.apiVersion !== Model.apiVersion) {
    console.log(`FAIL ${what}: no model for ${object.apiVersion} ${object.kind}`);
    failed++;
    continue;
  }
  try {
    new Model(object).validate();
    console.log(`ok   ${what} (${Model.apiVersion}, @kubernetes-models/prometheus-operator ${version})`);
  } catch (error) {
    console.log(`FAIL ${what}: ${error.message}`);
    failed++;
  }
}
if (entries.length === 0) {
  console.log("FAIL no ServiceMonitor or PrometheusRule given");
  failed++;
}
process.exit(failed ? 1 : 0);
