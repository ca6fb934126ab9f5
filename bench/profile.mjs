#!/usr/bin/env node
// `npm run bench:profile`: where the time of a key-authenticated request goes. Runs each auth
// scenario at 32 connections and reads, from /proc, the CPU each process group spent per request
// (Keyhook's wrangler + workerd, the floor's, the load generator); then takes a V8 CPU profile of
// Keyhook's Worker (through wrangler's inspector) during the whoami load and prints the functions
// with the most self time; the same for the webhook pipeline, per delivered webhook. Writes bench/results/<date>-profile.json.
import { mkdirSync, writeFileSync } from "node:fs";
import autocannon from "autocannon";
import {
  adminHeaders,
  benchAccount,
  FLOOR,
  FLOOR_PIPELINE,
  groupCpu,
  inspector,
  KEYHOOK,
  startFloor,
  startFloorPipeline,
  startKeyhook,
  stop,
  stopAll,
} from "./lib.mjs";
import { saturated, webhooks } from "./pipeline.mjs";

const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const INSPECTOR = 9230;

/** Self time per function (ms), from a V8 CPU profile, heaviest first. */
function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((nodeId, i) => {
    const f = byId.get(nodeId).callFrame;
    const name =
      `${f.functionName || "(anonymous)"} ${f.url ? `${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}` : ""}`.trim();
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...self.entries()].sort((a, b) => b[1] - a[1]);
}

const cpuOf = (groups) => Object.fromEntries(Object.entries(groups).map(([label, pgid]) => [label, groupCpu(pgid)]));
function perRequest(before, after, requests) {
  const out = {};
  for (const [label, names] of Object.entries(after)) {
    for (const [name, ms] of Object.entries(names)) {
      const used = ms - (before[label]?.[name] ?? 0);
      if (used > 0) out[`${label} ${name}`] = +(used / requests).toFixed(2);
    }
  }
  return out;
}

const keyhook = await startKeyhook(["--inspector-port", String(INSPECTOR), "--minify", "false"]);
const { account, key } = await benchAccount();
const floor = await startFloor();
const groups = { keyhook: keyhook.pid, floor: floor.pid };
const scenarios = {
  health: { url: `${KEYHOOK}/health` },
  floor: { url: `${FLOOR}/`, headers: { "x-api-key": key } },
  whoami: { url: `${KEYHOOK}/v1/whoami`, headers: { "x-api-key": key } },
  verify: { url: `${KEYHOOK}/v1/keys/verify`, method: "POST", headers: adminHeaders(), body: JSON.stringify({ key }) },
};

const results = {
  date: new Date().toISOString(),
  command: "npm run bench:profile",
  cpuMsPerRequest: {},
  profile: null,
};
// PROFILE_ONLY=pipeline skips the request scenarios.
const only = process.env.PROFILE_ONLY ?? "requests,pipeline";
for (const [name, opts] of only.includes("requests") ? Object.entries(scenarios) : []) {
  await autocannon({ ...opts, duration: 2, connections: 32 }); // warm-up, excluded
  const before = cpuOf(groups);
  const ownBefore = process.cpuUsage();
  const r = await autocannon({ ...opts, duration: DURATION, connections: 32 });
  const own = process.cpuUsage(ownBefore);
  const rows = perRequest(before, cpuOf(groups), r.requests.total);
  rows["load generator (autocannon)"] = +((own.user + own.system) / 1000 / r.requests.total).toFixed(2);
  results.cpuMsPerRequest[name] = { requestsPerSecond: Math.round(r.requests.average), ...rows };
  console.log(name, results.cpuMsPerRequest[name]);
}

/** A V8 CPU profile of Keyhook's Worker while `work` runs; self time per function per `unit`. */
async function profiled(work, port = INSPECTOR) {
  const cdp = await inspector(port);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
  await cdp.send("Profiler.start");
  const units = await work();
  const { result } = await cdp.send("Profiler.stop");
  cdp.close();
  const times = selfTimes(result.profile);
  const total = times.reduce((s, [, ms]) => s + ms, 0);
  const idle = times.filter(([n]) => n === "(idle)").reduce((s, [, ms]) => s + ms, 0);
  return {
    units,
    workerBusyMsPerUnit: +((total - idle) / units).toFixed(3),
    top: times
      .filter(([n]) => n !== "(idle)")
      .slice(0, 25)
      .map(([fn, ms]) => ({
        fn,
        msPerUnit: +(ms / units).toFixed(4),
        share: +((ms / (total - idle)) * 100).toFixed(1),
      })),
  };
}

if (only.includes("requests")) {
  results.profile = {
    scenario: "whoami, 32 connections; unit = one request",
    ...(await profiled(
      async () => (await autocannon({ ...scenarios.whoami, duration: DURATION, connections: 32 })).requests.total,
    )),
  };
  console.table(results.profile.top);
  console.log(`Worker busy ${results.profile.workerBusyMsPerUnit} ms per whoami request`);
}

// The webhook pipeline: CPU per delivered webhook by process — Keyhook's, then the pipeline floor's
// on the same load — then where Keyhook's Worker spends its time.
const forKeyhook = await webhooks(account.id);
const forFloor = await webhooks(account.id);
const forFloorProfile = await webhooks(account.id);
const floorPipeline = await startFloorPipeline(["--inspector-port", String(INSPECTOR + 1), "--minify", "false"]);
groups.floorPipeline = floorPipeline.pid;
let before = cpuOf(groups);
const floorFlow = await saturated(FLOOR_PIPELINE, key, forFloor, { label: "floor pipeline" });
results.floorPipelineCpuMsPerDelivery = perRequest(before, cpuOf(groups), floorFlow.delivered);
results.floorPipelineProfile = {
  scenario: "the pipeline floor (publish + queue consumer); unit = one delivered webhook",
  ...(await profiled(
    async () => (await saturated(FLOOR_PIPELINE, key, forFloorProfile, { events: 300 })).delivered,
    INSPECTOR + 1,
  )),
};
console.table(results.floorPipelineProfile.top);
console.log(`Floor Worker busy ${results.floorPipelineProfile.workerBusyMsPerUnit} ms per delivered webhook`);
stop(floorPipeline);
before = cpuOf(groups);
const flow = await saturated(KEYHOOK, key, forKeyhook, { label: "Keyhook pipeline" });
results.pipelineCpuMsPerDelivery = perRequest(before, cpuOf(groups), flow.delivered);
console.log("pipeline CPU ms per delivery", {
  keyhook: results.pipelineCpuMsPerDelivery,
  floor: results.floorPipelineCpuMsPerDelivery,
});
const profiledSetup = await webhooks(account.id);
results.pipelineProfile = {
  scenario: "webhook pipeline (publish + first attempts); unit = one delivered webhook",
  ...(await profiled(async () => (await saturated(KEYHOOK, key, profiledSetup, { events: 300 })).delivered)),
};
console.table(results.pipelineProfile.top);
console.log(`Worker busy ${results.pipelineProfile.workerBusyMsPerUnit} ms per delivered webhook`);
mkdirSync("bench/results", { recursive: true });
if (only === "requests,pipeline")
  writeFileSync(`bench/results/${results.date.slice(0, 10)}-profile.json`, `${JSON.stringify(results, null, 2)}\n`);
stopAll();
process.exit(0);
