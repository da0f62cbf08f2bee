"""The runflow pytest plugin: test agent code against the local server, offline,
for both grammars it serves (the Assistants stream and the Responses API).

Installed with ``pip install 'runflow-sse[testing]'`` it is loaded by pytest's
``pytest11`` entry point (or explicitly: ``pytest -p runflow.testing.plugin``).
Loading it starts nothing; the server starts the first time a test asks for it.

Fixtures:

* ``runflow_server`` -- one :class:`runflow.testing.Server` per session;
* ``runflow_case`` -- this test's choice of protocol, scenario, fault and recording
  (:class:`RunflowCase`), from the markers below or their parametrisation;
* ``openai_client`` / ``async_openai_client`` -- real openai clients bound to the
  case's server, sending the case's fault with every request;
* ``assert_valid_run`` / ``assert_valid_response`` -- the assertions of
  :mod:`runflow.testing.assertions`.

Markers (each takes names, or ``"all"``; several values make one test per value,
and protocols x scenarios x faults multiply)::

    @pytest.mark.runflow_protocol("responses")      # default "assistants"; or both
    @pytest.mark.runflow_scenarios("parallel_functions", "cancel")   # or ("all")
    @pytest.mark.runflow_faults("cut_after=5", "error_after=3")     # or ("all")
    @pytest.mark.runflow_recording("path/to/run.jsonl")  # streams replayed, in order

The protocol picks the scenario table: the Assistants scenarios (``SCENARIOS``, an
assistant each: ``runflow_case.assistant_id``) or the Responses ones
(``RESPONSE_SCENARIOS``, chosen by the request's metadata:
``runflow_case.metadata``). Every fault applies to both streams (the ``error``
event a fault sends is the stream's own protocol's).

A recording gets a server of its own for that test (its streams are queued and
would otherwise be served to the next test).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from runflow.testing.assertions import assert_valid_response as _assert_valid_response
from runflow.testing.assertions import assert_valid_run as _assert_valid_run

if TYPE_CHECKING:
    import openai

    from runflow.testing import Server

__all__ = ["ALL_FAULTS", "ALL_SCENARIOS", "PROTOCOLS", "RunflowCase", "all_scenarios"]

ALL_FAULTS: tuple[str, ...] = (
    "cut_after=0", "cut_after=5", "error_after=4", "corrupt=6", "duplicate=6",
    "drop=6", "swap=6", "unknown=2", "delay=0.002",
)
"""What ``runflow_faults("all")`` runs: every kind of fault the local server
injects (see :mod:`runflow.server.faults`), including a cut before any event, for
either protocol. (A Responses stream cut before its first event names no response:
``drive_response`` raises ``DriveError`` there, by design.)"""

ALL_SCENARIOS = "all"
DEFAULT_SCENARIO = "text"
DEFAULT_PROTOCOL = "assistants"
PROTOCOLS: dict[str, str] = {"assistants": "SCENARIOS", "responses": "RESPONSE_SCENARIOS"}
"""Protocol -> the name of its scenario table in :mod:`runflow.testing` (each has a
``text`` scenario, the default)."""

_MARKERS = {
    "runflow_protocol": "runflow_protocol(*names): the protocol(s) the test's scenarios are "
                        "from: 'assistants' (default), 'responses'",
    "runflow_scenarios": "runflow_scenarios(*names): run the test once per local-server "
                         "scenario of the protocol ('all' for every one)",
    "runflow_faults": "runflow_faults(*specs): run the test once per fault, e.g. "
                      "'cut_after=5' ('all' for every kind)",
    "runflow_recording": "runflow_recording(path): serve this recording's streams, in order",
}


def all_scenarios(protocol: str = DEFAULT_PROTOCOL) -> list[str]:
    """The local server's scenario names for ``protocol`` (imports the server extra)."""
    import runflow.testing

    return list(getattr(runflow.testing, PROTOCOLS[protocol]))


@dataclass(frozen=True)
class _Choice:
    scenario: str = DEFAULT_SCENARIO
    fault: str | None = None
    protocol: str = DEFAULT_PROTOCOL
    named: bool = False  # the id names the protocol (the test runs under several)

    @property
    def id(self) -> str:
        return "-".join(p for p in (self.protocol if self.named else None, self.scenario,
                                    self.fault) if p)


@dataclass
class RunflowCase:
    """One test's setting: which server, protocol, scenario, fault and recording.

    ``assistant_id`` names the scenario's built-in assistant (Assistants);
    ``metadata`` is what chooses the scenario of a ``responses.create`` (Responses:
    ``drive_response(client, ..., metadata=case.metadata)``). ``fault`` is sent as
    the ``X-Runflow-Fault`` header by the clients this case makes, so it damages
    every streamed response they get, and nothing another test gets.
    """

    server: Server
    scenario: str = DEFAULT_SCENARIO
    fault: str | None = None
    recording: Path | None = None
    protocol: str = DEFAULT_PROTOCOL
    _injected: bool = field(default=False, repr=False)

    @property
    def assistant_id(self) -> str:
        return f"asst_{self.scenario}"

    @property
    def metadata(self) -> dict[str, str]:
        """``metadata=`` for ``responses.create``: the scenario to answer with."""
        return {"scenario": self.scenario}

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def _headers(self) -> dict[str, str]:
        from runflow.testing import FAULT_HEADER

        return {FAULT_HEADER: self.fault} if self.fault else {}

    def client(self, **options: Any) -> openai.OpenAI:
        """A real openai client bound to this case's server (no retries)."""
        import openai

        options.setdefault("max_retries", 0)
        headers = {**self._headers(), **options.pop("default_headers", {})}
        return openai.OpenAI(base_url=self.base_url, api_key="runflow-test",
                             default_headers=headers, **options)

    def async_client(self, **options: Any) -> openai.AsyncOpenAI:
        """The async twin of :meth:`client`."""
        import openai

        options.setdefault("max_retries", 0)
        headers = {**self._headers(), **options.pop("default_headers", {})}
        return openai.AsyncOpenAI(base_url=self.base_url, api_key="runflow-test",
                                  default_headers=headers, **options)

    def inject(self, spec: str, *, always: bool = False) -> None:
        """Damage the server's next streamed response (every one with ``always``),
        whoever asks; cleared when the test ends."""
        self.server.inject(spec, always=always)
        self._injected = True


# --------------------------------------------------------------------------- #
# hooks
# --------------------------------------------------------------------------- #
def pytest_configure(config: pytest.Config) -> None:
    for name, text in _MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def _values(metafunc: pytest.Metafunc, name: str, everything: Sequence[str]) -> list[str]:
    values: list[str] = []
    for marker in metafunc.definition.iter_markers(name):
        for arg in marker.args:
            if not isinstance(arg, str):
                raise pytest.UsageError(f"{metafunc.definition.nodeid}: @{name} takes "
                                        f"strings, got {arg!r}")
            values.extend(everything if arg == ALL_SCENARIOS else [arg])
    return list(dict.fromkeys(values))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``runflow_case`` from the protocol, scenario and fault markers."""
    if "runflow_case" not in metafunc.fixturenames:
        return
    has = {m.name for m in metafunc.definition.iter_markers()}
    if not has & {"runflow_protocol", "runflow_scenarios", "runflow_faults"}:
        return
    _server_class()  # a clear usage error without the testing extra
    where = metafunc.definition.nodeid
    protocols = _protocols(metafunc) if "runflow_protocol" in has else [DEFAULT_PROTOCOL]
    faults: list[str | None] = (list(_values(metafunc, "runflow_faults", ALL_FAULTS))
                                if "runflow_faults" in has else [None])
    for spec in faults:
        _check_fault(where, spec)
    choices = []
    for protocol in protocols:
        known = all_scenarios(protocol)
        scenarios = (_values(metafunc, "runflow_scenarios", known)
                     if "runflow_scenarios" in has else [DEFAULT_SCENARIO])
        for name in scenarios:
            if name not in known:
                raise pytest.UsageError(f"{where}: unknown runflow scenario {name!r}; "
                                        f"known: {', '.join(known)} ({protocol} protocol)")
        choices += [_Choice(s, f, protocol, len(protocols) > 1)
                    for s, f in itertools.product(scenarios, faults)]
    metafunc.parametrize("runflow_case", choices, indirect=True, ids=[c.id for c in choices])


def _protocols(metafunc: pytest.Metafunc) -> list[str]:
    names = _values(metafunc, "runflow_protocol", list(PROTOCOLS))
    for name in names:
        if name not in PROTOCOLS:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: unknown runflow protocol "
                                    f"{name!r}; known: {', '.join(PROTOCOLS)}")
    return names


def _check_fault(where: str, spec: str | None) -> None:
    from runflow.testing import FaultSyntaxError, parse_fault

    if spec is None:
        return
    try:
        parse_fault(spec)
    except FaultSyntaxError as exc:
        raise pytest.UsageError(f"{where}: @runflow_faults: {exc}") from None


# --------------------------------------------------------------------------- #
# fixtures
# --------------------------------------------------------------------------- #
def _server_class() -> type[Server]:
    try:
        from runflow.testing import Server
    except ImportError as exc:
        raise pytest.UsageError(f"the runflow fixtures need the testing extra ({exc.name} is "
                                "missing): pip install 'runflow-sse[testing]'") from None
    return Server


@pytest.fixture(scope="session")
def runflow_server() -> Iterator[Server]:
    """The local Assistants server, on a free loopback port, for the whole session."""
    with _server_class()() as server:
        yield server


@pytest.fixture
def runflow_case(request: pytest.FixtureRequest) -> Iterator[RunflowCase]:
    """This test's protocol, scenario, fault and recording (see :class:`RunflowCase`)."""
    choice = getattr(request, "param", None) or _Choice()
    marker = request.node.get_closest_marker("runflow_recording")
    if marker is None:
        server: Server = request.getfixturevalue("runflow_server")
        case = RunflowCase(server, choice.scenario, choice.fault, protocol=choice.protocol)
        yield case
        if case._injected:
            server.clear_faults()
        return
    if len(marker.args) != 1 or not isinstance(marker.args[0], (str, os.PathLike)):
        raise pytest.UsageError(f"{request.node.nodeid}: @runflow_recording takes one path")
    path = Path(marker.args[0])
    if not path.is_absolute():
        path = Path(request.node.path).parent / path
    if not path.is_file():
        raise pytest.UsageError(f"{request.node.nodeid}: recording {path} not found")
    with _server_class()(recordings=[path]) as own:
        yield RunflowCase(own, choice.scenario, choice.fault, recording=path,
                          protocol=choice.protocol)


@pytest.fixture
def openai_client(runflow_case: RunflowCase) -> Iterator[openai.OpenAI]:
    """A real ``openai.OpenAI`` bound to the case's server, with its fault."""
    client = runflow_case.client()
    yield client
    client.close()


_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _async_fixture() -> _Decorator | None:
    """pytest-asyncio's fixture decorator (strict or auto mode alike), if installed."""
    try:
        import pytest_asyncio
    except ImportError:
        return None
    decorator: _Decorator = pytest_asyncio.fixture
    return decorator


_ASYNC_FIXTURE = _async_fixture()
if _ASYNC_FIXTURE is not None:
    @_ASYNC_FIXTURE
    async def async_openai_client(runflow_case: RunflowCase) -> Any:
        """A real ``openai.AsyncOpenAI`` bound to the case's server, with its fault."""
        client = runflow_case.async_client()
        yield client
        await client.close()
else:
    @pytest.fixture
    def async_openai_client(runflow_case: RunflowCase) -> Any:
        """A real ``openai.AsyncOpenAI`` (install pytest-asyncio to run async tests)."""
        return runflow_case.async_client()


@pytest.fixture(name="assert_valid_run")
def assert_valid_run_fixture() -> Any:
    """:func:`runflow.testing.assertions.assert_valid_run`, as a fixture."""
    return _assert_valid_run


@pytest.fixture(name="assert_valid_response")
def assert_valid_response_fixture() -> Any:
    """:func:`runflow.testing.assertions.assert_valid_response`, as a fixture."""
    return _assert_valid_response
