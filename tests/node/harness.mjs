// Drives runflow's local Assistants server with the official Node SDK.
//
//   node harness.mjs BASE_URL PLAN_JSON
//
// PLAN_JSON is {"scenarios": [...names], "faults": [...specs], "text": "..."}.
// Every scenario runs through client.beta.threads.runs.stream (continued with
// submitToolOutputsStream when the run requires action); every fault runs the
// "text" scenario with the X-Runflow-Fault header. For each case the harness
// prints what the client ended with -- finalRun(), finalMessages(),
// finalRunSteps(), or the error it raised -- next to what REST says about the
// same run, as one JSON object on stdout. The comparison is made by the pytest
// side (tests/test_server_clients.py), so a failure shows a readable diff.
import OpenAI from 'openai';

const [baseURL, planText] = process.argv.slice(2);
const plan = JSON.parse(planText);
const client = new OpenAI({ baseURL, apiKey: 'test', maxRetries: 0, timeout: 20000 });

function describe(error) {
  if (!error) return null;
  return { name: error.constructor?.name ?? 'Error', message: String(error.message ?? error),
           status: error.status ?? null };
}

// One stream: the names of its events and the SDK's final snapshots (or its error).
async function consume(stream) {
  const events = [];
  stream.on('event', (event) => events.push(event.event));
  try {
    const run = await stream.finalRun();
    return { events, run, messages: await stream.finalMessages(),
             steps: await stream.finalRunSteps(), error: null };
  } catch (error) {
    return { events, run: stream.currentRun() ?? null, messages: [], steps: [],
             error: describe(error) };
  }
}

// What REST says about the run: the run, its steps and its messages.
async function rest(threadId, runId) {
  if (!runId) return null;
  const run = await client.beta.threads.runs.retrieve(runId, { thread_id: threadId });
  const steps = await client.beta.threads.runs.steps.list(runId, { thread_id: threadId,
                                                                   order: 'asc' });
  const messages = await client.beta.threads.messages.list(threadId, { run_id: runId,
                                                                       order: 'asc' });
  return { run, steps: steps.data, messages: messages.data };
}

async function runCase(name, scenario, fault) {
  const thread = await client.beta.threads.create();
  const metadata = scenario === 'text' ? { text: plan.text } : {};
  const options = fault ? { headers: { 'X-Runflow-Fault': fault } } : {};
  const streams = [];
  let last = await consume(client.beta.threads.runs.stream(
    thread.id, { assistant_id: `asst_${scenario}`, metadata }, options));
  streams.push(last);
  if (!last.error && last.run?.status === 'requires_action') {
    const calls = last.run.required_action.submit_tool_outputs.tool_calls;
    const tool_outputs = calls.map((call) => ({ tool_call_id: call.id,
                                                output: `${call.function.name} ok` }));
    last = await consume(client.beta.threads.runs.submitToolOutputsStream(
      last.run.id, { thread_id: thread.id, tool_outputs, stream: true }, options));
    streams.push(last);
  }
  let runId = streams.map((s) => s.run?.id).find(Boolean);
  if (!runId) {  // the stream died before any run event: ask REST which run it was
    const runs = await client.beta.threads.runs.list(thread.id);
    runId = runs.data[0]?.id;
  }
  return { name, scenario, fault, thread_id: thread.id, streams,
           rest: await rest(thread.id, runId) };
}

const results = [];
for (const scenario of plan.scenarios) results.push(await runCase(scenario, scenario, null));
for (const fault of plan.faults) results.push(await runCase(fault, 'text', fault));
process.stdout.write(JSON.stringify({ results }));
