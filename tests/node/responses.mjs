// Drives runflow's local Responses API server with the official Node SDK.
//
//   node responses.mjs BASE_URL PLAN_JSON
//
// PLAN_JSON is {"scenarios": [...names], "faults": [...specs], "text": "...",
// "tools": [...function tools], "resume_after": [...sequence numbers]}.
// Every scenario runs through client.responses.stream(...) (finalResponse()) and
// client.responses.create({stream: true}); parallel_functions is continued with
// previous_response_id and function_call_output items. Every background
// response is resumed with client.responses.retrieve(id, {stream: true,
// starting_after: N}), after reading it whole and after leaving it early. Every
// fault runs the "text" scenario with the X-Runflow-Fault header. For each case
// the harness prints what the client received -- the events, the final response
// or the error it raised -- as one JSON object on stdout; the comparison with
// REST is made by tests/test_server_responses_node.py.
import OpenAI from 'openai';

const [baseURL, planText] = process.argv.slice(2);
const plan = JSON.parse(planText);
const client = new OpenAI({ baseURL, apiKey: 'test', maxRetries: 0, timeout: 20000 });

function describe(error) {
  if (!error) return null;
  return { name: error.constructor?.name ?? 'Error', message: String(error.message ?? error),
           status: error.status ?? null };
}

function body(scenario, extra = {}) {
  const request = { model: 'gpt-4o', input: 'Hello?',
                    metadata: { scenario, text: plan.text }, ...extra };
  if (scenario === 'parallel_functions') request.tools = plan.tools;
  return request;
}

// client.responses.stream: every event it emits, then finalResponse() or its error.
async function viaHelper(request, options = {}) {
  const events = [];
  const stream = client.responses.stream(request, options);
  stream.on('event', (event) => events.push(event));
  try {
    const final = await stream.finalResponse();
    return { events, final, error: null };
  } catch (error) {
    return { events, final: null, error: describe(error) };
  }
}

// A raw stream (create with stream: true, or retrieve with stream: true), up to `limit` events.
async function raw(open, limit = Infinity) {
  const events = [];
  try {
    const stream = await open();
    for await (const event of stream) {
      events.push(event);
      if (events.length >= limit) break;  // leaves the stream: the connection is aborted
    }
    return { events, error: null };
  } catch (error) {
    return { events, error: describe(error) };
  }
}

const responseId = (events) => events.find((e) => e.type === 'response.created')?.response.id;

const results = [];
for (const scenario of plan.scenarios) {
  const first = await viaHelper(body(scenario));
  results.push({ name: `stream:${scenario}`, scenario, ...first,
                 response_id: responseId(first.events) });
  if (scenario === 'parallel_functions' && first.final) {
    const input = first.final.output.filter((item) => item.type === 'function_call')
      .map((call) => ({ type: 'function_call_output', call_id: call.call_id,
                        output: `${call.name} ok` }));
    const next = await viaHelper(body(scenario, { previous_response_id: first.final.id, input }));
    results.push({ name: `stream:${scenario}:continued`, scenario, ...next,
                   response_id: responseId(next.events) });
  }
  const created = await raw(() => client.responses.create({ ...body(scenario), stream: true }));
  results.push({ name: `create:${scenario}`, scenario, ...created,
                 response_id: responseId(created.events) });

  // background: read whole, then resumed after each N; and left early, then resumed
  const whole = await raw(() => client.responses.create({ ...body(scenario), background: true,
                                                          stream: true }));
  const id = responseId(whole.events);
  results.push({ name: `background:${scenario}`, scenario, ...whole, response_id: id });
  for (const after of plan.resume_after) {
    const resumed = await raw(() => client.responses.retrieve(id, { stream: true,
                                                                   starting_after: after }));
    results.push({ name: `resume:${scenario}:${after}`, scenario, after, ...resumed,
                   response_id: id });
  }
  const early = await raw(() => client.responses.create({ ...body(scenario), background: true,
                                                          stream: true }), 3);
  const earlyId = responseId(early.events);
  const after = early.events.at(-1).sequence_number;
  const rest = await raw(() => client.responses.retrieve(earlyId, { stream: true,
                                                                   starting_after: after }));
  results.push({ name: `left:${scenario}`, scenario, after, head: early.events, ...rest,
                 response_id: earlyId });
}
for (const fault of plan.faults) {
  const result = await viaHelper(body('text'), { headers: { 'X-Runflow-Fault': fault } });
  results.push({ name: `fault:${fault}`, scenario: 'text', fault, ...result,
                 response_id: responseId(result.events) });
}
process.stdout.write(JSON.stringify({ results }));
