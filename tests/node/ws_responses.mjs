// Drives runflow's local server in Responses WebSocket mode with the official Node SDK.
//
//   node ws_responses.mjs BASE_URL PLAN_JSON
//
// PLAN_JSON is {"tools": [...function tools], "answer": "text of each tool output",
// "steer": "text steered into the held response on lane c"}.
// The pinned openai-node has no client.responses.connect(); its WebSocket connection
// to /v1/responses is ResponsesWS (openai/resources/responses/ws, over the `ws`
// package), and ResponsesWebSocketSession routes its events to lanes. On one socket:
//   lane a: a two-turn tool loop -- parallel_functions, then previous_response_id with
//           one function_call_output per call (only the new items, as WebSocket mode
//           intends);
//   lane b: a text response, at the same time;
//   lane c: a response held until a response.steer arrives, whose automatic successor
//           is read from the same lane.
// It prints what the client got -- each lane's final responses, the steer events
// and any error -- as one JSON object on stdout; tests/test_websocket_node.py checks
// it and the server's transcript of the same socket.
import OpenAI from 'openai';
import { ResponsesWS } from 'openai/resources/responses/ws';
import { ResponsesWebSocketSession } from 'openai/lib/responses/responses-websocket-session';

const [baseURL, planText] = process.argv.slice(2);
const plan = JSON.parse(planText);
const client = new OpenAI({ baseURL, apiKey: 'test', maxRetries: 0, timeout: 20000 });

function describe(error) {
  if (!error) return null;
  return { name: error.constructor?.name ?? 'Error', message: String(error.message ?? error) };
}

function timeout(ms) {
  return AbortSignal.timeout(ms);
}

async function toolLoop(lane) {
  lane.create({ model: 'gpt-4o', input: 'Look it up', tools: plan.tools,
                metadata: { scenario: 'parallel_functions' } });
  const first = await lane.finalResponse({ signal: timeout(20000) });
  const calls = first.output.filter((item) => item.type === 'function_call');
  lane.create({ model: 'gpt-4o', previous_response_id: first.id, tools: plan.tools,
                input: calls.map((call) => ({ type: 'function_call_output',
                                              call_id: call.call_id, output: plan.answer })) });
  const second = await lane.finalResponse({ signal: timeout(20000) });
  return [first, second];
}

async function text(lane) {
  lane.create({ model: 'gpt-4o', input: 'Hello?' });
  return [await lane.finalResponse({ signal: timeout(20000) })];
}

// The held response: steer it once it is in progress, then read the steered response
// (incomplete) and its automatic successor from the lane.
async function steered(conn, lane, steers) {
  lane.create({ model: 'gpt-4o', input: 'Tell me a story', metadata: { hold: 'steer' } });
  let steeredOnce = false;
  const finals = [];
  while (finals.length < 2) {
    const event = await lane.receive({ signal: timeout(20000) });
    if (event.type === 'response.in_progress' && !steeredOnce) {
      steeredOnce = true;
      conn.send({ type: 'response.steer', previous_response_id: event.response.id,
                  input: plan.steer });
    } else if (event.type.startsWith('response.steer.')) {
      steers.push(event);
    } else if (['response.completed', 'response.incomplete', 'response.failed']
      .includes(event.type)) {
      finals.push(event.response);
    }
  }
  return finals;
}

// Lanes send straight to the socket, so wait for it to open (the documented way:
// the connection's lifecycle iterator; leaving it does not close the socket).
async function opened(conn) {
  for await (const message of conn.stream()) {
    if (message.type === 'open') return;
    if (message.type === 'close' || message.type === 'error') {
      throw new Error(`the socket did not open: ${JSON.stringify(message)}`);
    }
  }
}

const result = { lanes: {}, steers: [], error: null };
const conn = new ResponsesWS(client);
conn.on('error', (error) => { result.error ??= describe(error); });
let session = null;
try {
  await opened(conn);
  session = new ResponsesWebSocketSession(conn, { maxLanes: 8, maxBufferedEvents: 8192,
                                                  maxBufferedBytes: 1 << 25 });
  const [a, b, c] = await Promise.all([
    toolLoop(session.lane('a')), text(session.lane('b')),
    steered(conn, session.lane('c'), result.steers),
  ]);
  result.lanes = { a, b, c };
} catch (error) {
  result.error = describe(error);
} finally {
  session?.close();
  conn.close();
}
process.stdout.write(JSON.stringify(result) + '\n');
