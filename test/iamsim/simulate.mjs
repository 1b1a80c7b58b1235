// Evaluates IAM requests with @cloud-copilot/iam-simulate (AGPL-3.0, a
// test-only tool: pinned in package.json, run by test/iam_sim_test.go, shipped
// in no artifact). Reads a JSON array of simulations on stdin (the package's
// Simulation shape) and writes a JSON array of results: {result, errors}.
import { runSimulation } from '@cloud-copilot/iam-simulate';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = [];
for (const sim of JSON.parse(input)) {
  const r = await runSimulation(sim, {});
  out.push({ result: r.overallResult ?? r.resultType, errors: r.errors ?? null });
}
process.stdout.write(JSON.stringify(out));
