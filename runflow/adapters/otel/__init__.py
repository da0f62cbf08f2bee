"""OpenTelemetry spans for a flow of any shipped protocol, as it changes.

Needs the ``otel`` extra (``pip install 'runflow-sse[otel]'``)::

    from opentelemetry import trace
    from runflow.adapters.otel import trace_flow

    flow = RunFlow()         # or ResponseFlow()
    tracing = trace_flow(flow, trace.get_tracer("my-agent"))
    ...                      # feed / consume / recover as usual
    tracing.finish()         # only needed for a flow that never reached a final state

How spans open and end is the same for every protocol (:mod:`.core`); what each
protocol's spans are is its own module, picked by the flow's definition name
(:data:`SPAN_MAPS`):

* ``assistants`` (:mod:`.assistants`): the run (``invoke_agent <assistant id>``),
  its steps and messages;
* ``responses`` (:mod:`.responses`): the response (``chat <model>``) and its
  output items.

Attributes follow the OpenTelemetry GenAI semantic conventions where they fit
(``gen_ai.operation.name``, ``gen_ai.system`` / ``gen_ai.provider.name``,
``gen_ai.response.id``, ``gen_ai.response.model``, ``gen_ai.usage.*``,
``gen_ai.tool.*``...) and runflow's own ``runflow.*`` namespace where they do not
(states, endings, violation codes). No message text is recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.trace import Tracer

from runflow.adapters.otel.assistants import ASSISTANT_SPANS
from runflow.adapters.otel.core import FlowTracer, SpanMap
from runflow.adapters.otel.responses import RESPONSE_SPANS
from runflow.adapters.otel.tree import format_span_tree

if TYPE_CHECKING:
    from runflow import ResponseFlow, RunFlow

__all__ = ["SPAN_MAPS", "FlowTracer", "SpanMap", "format_span_tree", "trace_flow"]

SPAN_MAPS: dict[str, SpanMap] = {"assistants": ASSISTANT_SPANS, "responses": RESPONSE_SPANS}
"""Definition name (``flow.protocol.name``) -> how that protocol's entities are traced."""


def trace_flow(flow: RunFlow | ResponseFlow, tracer: Tracer, *, system: str = "openai",
               spans: SpanMap | None = None) -> FlowTracer:
    """Emit spans for ``flow`` (a ``RunFlow``, a ``ResponseFlow``) through ``tracer``;
    returns the :class:`FlowTracer`. ``spans`` traces a flow of another definition
    (by default the one :data:`SPAN_MAPS` names for the flow's protocol)."""
    if spans is None:
        spans = SPAN_MAPS.get(flow.protocol.name)
        if spans is None:
            raise ValueError(f"no span map for the {flow.protocol.name!r} protocol; known: "
                             f"{', '.join(SPAN_MAPS)} (pass spans=)")
    tracing = FlowTracer(flow, tracer, spans, system=system)
    tracing.attach()
    return tracing
