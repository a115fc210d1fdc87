"""The call driver: runs the engine for one turn, with hooks, store and safety net.

Every transport (Twilio webhooks, the media stream, the simulator, the
console) calls the driver, so all of them share one behaviour:

* load the call's state, step the engine, run any hooks it asks for and
  feed their results back, save the state and the call events in one go;
* never leave a caller in silence: if anything fails (store, hook runner,
  a bug), the turn ends in a transfer to a person with whatever context is
  known;
* apply each turn once: a turn is saved with compare-and-set on the state's
  ``version`` (in the store, so it holds across workers and hosts), and the
  answer it gave is kept with the state.  A retried webhook (same request
  key) or a request for a turn the call has already left (an older
  ``turn``) gets that answer again without being applied; a request that
  lost a race to another one for the same call looks again;
* keep each turn within one deadline (:data:`TURN_DEADLINE`), shared by all
  of its hooks, well under the 15 s after which Twilio gives up on a webhook:
  a hook past it counts as timed out and the flow's ``on_failure`` (or a
  person) follows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

from ..engine import actions as A
from ..engine import events as E
from ..engine.context import build_context
from ..engine.engine import reprompt, step, text
from ..engine.state import CallState
from ..errors import StoreConflict
from ..flow.model import Flow
from ..flow.registry import FlowSet
from ..handoff.recording import CallRecorder, RecordingError
from ..hooks.registry import HookCall, HookRegistry
from ..store.base import Store
from .voice_auth import VoiceAuth

if TYPE_CHECKING:
    from ..analytics.metrics import CallMetrics

log = logging.getLogger(__name__)

MAX_HOOKS_PER_TURN = 16
TURN_DEADLINE = 8.0
"""Seconds all hooks of one turn may take together (``IVR_TURN_DEADLINE``).

Twilio abandons a webhook after 15 s and the caller hears its error message; 8 s
leaves room for the store calls, the rendering and the way back, and a hook that
is still running then is a timed-out hook (→ the flow's ``on_failure`` or a person)."""
MAX_CONFLICTS = 8
"""Tries of one turn against concurrent writers of the same call before giving up (→ a person)."""
REPLY = "reply"
"""``state.extra`` key of the last answer: the request key and the actions, for retries."""


@dataclass
class Turn:
    """What a transport must carry out after one event.

    Attributes:
        actions: prompts and the turn-ending action (RecordEvents removed).
        state: the call state after the turn (None if it could not be had).
        flow: the flow the call runs.
        events: the call events recorded during the turn.
    """

    actions: list[A.Action]
    state: Optional[CallState]
    flow: Optional[Flow]
    events: list[A.RecordEvent] = field(default_factory=list)

    @property
    def last(self) -> Optional[A.Action]:
        return self.actions[-1] if self.actions else None

    @property
    def prompts(self) -> list[A.Play]:
        return [a for a in self.actions if isinstance(a, A.Play)]


class CallDriver:
    """Runs calls of a set of flows against a store.

    Args:
        flows: the flows (reloaded safely when files change).
        store: where state and records go.
        hooks: the deployment's hooks.
        clock: seconds since the epoch (tests pass a fake).
        default_queue: queue used when no flow is known at all.
    """

    def __init__(self, flows: FlowSet, store: Store, hooks: HookRegistry,
                 clock: Callable[[], float] = time.time, default_queue: str = "general",
                 turn_deadline: float = TURN_DEADLINE) -> None:
        self.flows = flows
        self.store = store
        self.hooks = hooks
        self.clock = clock
        self.default_queue = default_queue
        self.turn_deadline = turn_deadline
        """Seconds the hooks of one turn may take together (:data:`TURN_DEADLINE`)."""
        self.directory = None
        """Where callers' earlier calls come from (``history(caller, exclude=, limit=)``); None: the store."""
        self.voice_auth: Optional[VoiceAuth] = None
        """Who is speaking (VerifyVoice, EnrollVoice, DeleteVoiceprint); None: voice authentication is off."""
        self.transfer_listeners: list[Callable[[CallState, A.Transfer], None]] = []
        """Called after a turn that ends in a transfer is saved (CRM webhooks); errors are logged only."""
        self.prompt_seconds: Optional[Callable[[A.Play], float]] = None
        """Seconds a prompt plays (its audio, else an estimate): totalled per call for analytics; None: not."""
        self.recorder: Optional[CallRecorder] = None
        """Records calls of flows with ``settings.record`` (paused during sensitive asks); None: no recording."""
        self.metrics: Optional[CallMetrics] = None
        """Counts each saved turn's events (``/metrics``); None: nothing is counted (simulator, console)."""

    # -- public API -----------------------------------------------------
    def start(self, call_id: str, caller: str, called: str, flow: Flow, key: Optional[str] = None,
              entry: str = "") -> Turn:
        """A new call reached ``flow``.

        Args:
            entry: the entry point's name (``?entry=NAME``, the SIP header ``X-IVR-Entry``), for routing.
            key: identifies the request (see :meth:`feed`); the call's first
                webhook retried, or sent twice at once, starts the call once.
        """
        def run() -> Turn:
            deadline = self._deadline()
            for _ in range(MAX_CONFLICTS):
                existing = self.store.load_state(call_id)
                if existing is not None:  # Twilio retried the first webhook: the same answer, no restart
                    return self._answered(existing, flow)
                history = tuple(self._history(caller, call_id))
                state, actions = step(flow, None, E.CallStarted(call_id, caller, called, self.clock(), history,
                                                         entry=entry))
                try:
                    return self._finish(flow, state, actions, expected=0, key=key, deadline=deadline)
                except StoreConflict:
                    log.info("call %s: started by a concurrent request; answering as it did", call_id)
            raise StoreConflict(f"call {call_id}: too many concurrent writers")
        return self._guard(run, call_id, caller, flow)

    def feed(self, call_id: str, event: E.Event, expect_node: Optional[str] = None,
             turn: Optional[int] = None, key: Optional[str] = None) -> Turn:
        """Deliver an event to a running call, once.

        Args:
            expect_node: the node the transport's input belongs to; input for a
                node the call has left (a retried webhook) is not applied twice.
            turn: the state version the input answers (rendered into webhook
                URLs); input for an earlier version gets the current answer.
            key: identifies the request (Twilio's idempotency token): the same
                key again is a retry and gets the same answer, applied once.
        """
        def run() -> Turn:
            deadline = self._deadline()
            for _ in range(MAX_CONFLICTS):
                state, flow = self._running(call_id)
                last = state.extra.get(REPLY) or {}
                if key is not None and last.get("key") == key:
                    log.info("call %s: retried request; the same answer again", call_id)
                    return self._answered(state, flow)
                hangup = isinstance(event, E.CallerHungUp)
                if turn is not None and turn != state.version and not hangup:
                    log.info("call %s: input for turn %s, call is at %s: current answer", call_id, turn,
                             state.version)
                    return self._answered(state, flow)
                if expect_node is not None and state.node != expect_node and not hangup:
                    log.info("stale input for node %s (call %s is at %s): replaying", expect_node, call_id,
                             state.node)
                    return self._replay(state, flow)
                new, actions = step(flow, state, event)
                try:
                    return self._finish(flow, new, actions, expected=state.version, key=key, deadline=deadline)
                except StoreConflict:
                    log.info("call %s: a concurrent request changed the call; looking again", call_id)
            raise StoreConflict(f"call {call_id}: too many concurrent writers")
        return self._guard(run, call_id, "", None)

    def resume(self, call_id: str) -> Turn:
        """The current prompt and listen of a running call again, counting nothing.

        For a transport that lost its connection mid-dialogue (a media stream
        that dropped) and picks the call up again.
        """
        def run() -> Turn:
            return self._replay(*self._running(call_id))
        return self._guard(run, call_id, "", None)

    def answer(self, call_id: str) -> Turn:
        """The answer the call's last saved turn gave, again, applying nothing.

        For a transport that let a slow turn finish in the background (the
        keypad path's holding message and ``<Redirect>``) and now needs what it said.
        """
        def run() -> Turn:
            return self._answered(*self._running(call_id))
        return self._guard(run, call_id, "", None)

    def _deadline(self) -> float:
        """When the turn starting now must be done with its hooks (``time.monotonic()`` seconds).

        The wall clock, not :attr:`clock`: simulated calls pin the call's time, never
        the time a hook may take.
        """
        return time.monotonic() + self.turn_deadline

    def _running(self, call_id: str) -> tuple[CallState, Flow]:
        """A running call's state and flow; LookupError (→ a person) when either is gone."""
        state = self.store.load_state(call_id)
        if state is None:
            raise LookupError(f"unknown call {call_id}")
        flow = self.flows.get(state.flow)
        if flow is None:
            raise LookupError(f"flow {state.flow} of call {call_id} is no longer loaded")
        return state, flow

    def _history(self, caller: str, call_id: str) -> list[dict]:
        source = self.directory or self.store
        try:
            return list(source.history(caller, exclude=call_id))
        except Exception as exc:  # history is a help for agents, never a reason to fail a call
            log.warning("call %s: caller history unavailable (%s)", call_id, type(exc).__name__)
            return []

    def _notify(self, state: CallState, out: list[A.Action]) -> None:
        last = out[-1] if out else None
        if not isinstance(last, A.Transfer):
            return
        for listener in self.transfer_listeners:
            try:
                listener(state, last)
            except Exception:
                log.exception("call %s: transfer listener failed", state.call_id)

    def state(self, call_id: str) -> Optional[CallState]:
        return self.store.load_state(call_id)

    # -- internals --------------------------------------------------------
    def _finish(self, flow: Flow, state: CallState, actions: list[A.Action], expected: int,
                key: Optional[str] = None, deadline: Optional[float] = None) -> Turn:
        """Run the turn's hooks, then save it with its answer, if the stored version is still ``expected``.

        Each hook waits for the smaller of its own timeout and what is left until
        ``deadline`` (default: :attr:`turn_deadline` from now), so sixteen slow hooks
        still end the turn in time; past it a hook is not started and counts as timed out.

        Raises:
            StoreConflict: another request saved this call first; nothing was written.
        """
        deadline = self._deadline() if deadline is None else deadline
        events: list[A.RecordEvent] = []
        out: list[A.Action] = []
        hooks_run = 0
        while True:
            for a in actions:
                if isinstance(a, A.DeleteVoiceprint):
                    self._voice(a, state)
                else:
                    (events if isinstance(a, A.RecordEvent) else out).append(a)
            last = out[-1] if out else None
            if isinstance(last, (A.VerifyVoice, A.EnrollVoice)):
                out.pop()
                state, actions = step(flow, state, self._voice(last, state))
                continue
            if not isinstance(last, A.RunHook):
                break
            out.pop()
            hooks_run += 1
            if hooks_run > MAX_HOOKS_PER_TURN:
                result: E.Event = E.HookFailed("too many hooks in one turn", at=self.clock())
            else:
                call = HookCall(last.hook, dict(last.args), state.call_id, state.caller, state.flow, last.node,
                                at=self.clock())
                left = deadline - time.monotonic()
                result = self.hooks.run(call, min(last.timeout, left), http=_http_spec(flow, last.hook),
                                        clock=self.clock)
            state, actions = step(flow, state, result)
        events += self._recording(flow, state, out, first_turn=expected == 0)
        events += self._prompt_time(state, out)
        state.last_prompts = [a.text for a in out if isinstance(a, A.Play)]
        state.extra[REPLY] = {"key": key, "actions": [A.to_dict(a) for a in out]}
        state.version = expected + 1
        self.store.save(state, events, expected_version=expected)
        self._count(state, events)
        if state.ended:
            self.end_audio(state.call_id)   # the call is over: no audio of it is kept
        self._notify(state, out)
        return Turn(out, state, flow, events)

    def _prompt_time(self, state: CallState, out: list[A.Action]) -> list[A.RecordEvent]:
        """Add up the prompt seconds the caller was played; one ``prompts_heard`` event when the call ends.

        One event a call, not one a turn: the hot path writes no more rows, and a report reads one
        number per call. Barge-in cuts prompts short, so this is what was played, an upper bound.
        """
        if self.prompt_seconds is None or "prompts_heard" in state.extra:
            return []
        played = sum(self.prompt_seconds(a) for a in out if isinstance(a, A.Play))
        total = round(float(state.extra.get("prompt_s", 0.0)) + played, 2)
        state.extra["prompt_s"] = total
        if not state.ended:
            return []
        state.extra["prompts_heard"] = True   # a post-call survey later is not self-service time
        return [A.RecordEvent("prompts_heard", state.node, self.clock(), {"seconds": total})]

    def _recording(self, flow: Flow, state: CallState, out: list[A.Action],
                   first_turn: bool) -> list[A.RecordEvent]:
        """Keep the call's recording paused exactly while the caller is asked a sensitive question.

        Runs before the turn's answer reaches Twilio, so the recording is paused
        before the question is even heard. Starts the recording with the first
        answer (Twilio records only calls in progress). A recording that cannot
        be paused is stopped; one that cannot be stopped either raises, and the
        caller goes to a person rather than give a secret to a recording.
        """
        last = out[-1] if out else None
        if self.recorder is None or not flow.settings.record or first_turn or \
                (state.ended and not isinstance(last, A.Transfer)):   # the call is over: so is its recording
            return []
        secret = isinstance(last, A.Listen) and last.sensitive
        have = state.extra.get("recording")   # None (not started), recording, paused, stopped, failed
        want = "paused" if secret else "recording"
        if have in ("stopped", "failed") or have == want or (have is None and secret):
            return []
        sid = state.call_id
        try:
            if have is None:
                self.recorder.start(sid)
            elif want == "paused":
                self.recorder.pause(sid)
            else:
                self.recorder.resume(sid)
        except RecordingError as exc:
            if want != "paused":   # an unrecorded call hurts nobody: carry on
                log.warning("call %s: %s", sid, exc)
                state.extra["recording"] = "failed" if have is None else have
                return [A.RecordEvent("recording", state.node, self.clock(), {"status": "failed", "wanted": want})]
            log.error("call %s: %s; stopping the recording so that the secret is not recorded", sid, exc)
            self.recorder.stop(sid)  # raises RecordingError in turn: the safety net hands the caller to a person
            want = "stopped"
        state.extra["recording"] = want
        return [A.RecordEvent("recording", state.node, self.clock(), {"status": want})]

    def _count(self, state: CallState, events: list[A.RecordEvent]) -> None:
        """Metrics of a saved turn: counted once, only after the save succeeded (a lost race counts nothing)."""
        if self.metrics is None or not events:
            return
        try:
            self.metrics.observe(state.flow, events, transferred=state.transferred_at is not None)
        except Exception:  # metrics never cost a caller their turn
            log.exception("call %s: metrics failed", state.call_id)

    def _voice(self, action: A.Action, state: CallState) -> E.Event:
        """Carry out a voice-authentication action; without an authenticator the voice decides nothing."""
        result = self.voice_auth.run(action, state) if self.voice_auth is not None else None
        if result is not None:
            return result
        if isinstance(action, A.EnrollVoice):
            return E.EnrollResult("failed", at=self.clock(), error="voice authentication is off")
        return E.AuthResult("voice", "inconclusive", at=self.clock(), subject=getattr(action, "subject", None))

    def passive_auth(self, call_id: str) -> Optional[Turn]:
        """Verify (or complete the enrolment of) the caller from ordinary turns' speech, once enough was heard.

        Transports call this after each utterance; None when there is nothing to decide yet.
        """
        if self.voice_auth is None or not self.voice_auth.undecided(call_id):
            return None   # decided already (or never heard): no store read per utterance
        state = self.store.load_state(call_id)
        if state is None or state.ended:
            return None
        event = self.voice_auth.passive(state)
        return self.feed(call_id, event) if event is not None else None

    def hear(self, call_id: str, pcm: bytes) -> None:
        """Voiced caller audio of a turn that was not sensitive (the simulator's ``say_audio``)."""
        if self.voice_auth is not None:
            self.voice_auth.hear(call_id, pcm)

    def end_audio(self, call_id: str) -> None:
        """The call's audio ended (stream stopped, call over): the voice authenticator lets go of it."""
        if self.voice_auth is not None:
            self.voice_auth.end(call_id)

    def _answered(self, state: CallState, flow: Flow) -> Turn:
        """The answer the call's last turn gave, again (nothing is applied or counted)."""
        stored = (state.extra.get(REPLY) or {}).get("actions")
        if stored:
            return Turn([A.from_dict(a) for a in stored], state, flow)
        return self._replay(state, flow)

    def _replay(self, state: CallState, flow: Flow) -> Turn:
        """Re-issue the current prompt without counting anything (idempotent retries)."""
        if state.ended:
            return Turn([A.Hangup(state.end_reason or "completed")], state, flow)
        return Turn(reprompt(flow, state, self.clock()), state, flow)

    def _guard(self, run: Callable[[], Turn], call_id: str, caller: str, flow: Optional[Flow]) -> Turn:
        try:
            return run()
        except Exception as exc:  # the safety net: a person, never silence
            log.exception("call %s: turn failed (%s); transferring to a person", call_id, type(exc).__name__)
            return self.fallback(call_id, caller, flow, repr(exc))

    def fallback(self, call_id: str, caller: str, flow: Optional[Flow], error: str = "") -> Turn:
        """A transfer to a person with whatever context can still be had."""
        state: Optional[CallState] = None
        try:
            state = self.store.load_state(call_id)
        except Exception:
            log.warning("call %s: store unavailable while escalating", call_id)
        if flow is None and state is not None:
            flow = self.flows.get(state.flow)
        now = self.clock()
        queue = flow.settings.agent_queue if flow else self.default_queue
        if state is None:
            state = CallState(call_id=call_id, flow=flow.flow if flow else "", caller=caller,
                              language=flow.language if flow else "en-US", started_at=now)
        if state.ended and state.queue:
            queue = state.queue
        st = state.model_copy(deep=True)
        st.queue, st.reason, st.failed_node = queue, "system_error", st.node
        st.ended, st.end_reason, st.transferred_at, st.updated_at = True, "transferred", now, now
        st.secrets = {}
        ev = A.RecordEvent("transfer", st.node, now, {"queue": queue, "reason": "system_error",
                                                     "error": error[:200]})
        try:
            self.store.save(st, [ev])
            self._count(st, [ev])
        except Exception:
            log.warning("call %s: could not record the fallback transfer", call_id)
        language = flow.language if flow else "en-US"
        play = A.Play(text(language, "error"), st.node or "", "escalate", language, False,
                      flow=flow.flow if flow else "", voice=flow.settings.voice if flow else None,
                      rate=flow.settings.rate if flow else None)
        actions: list[A.Action] = [play,
                                   A.Transfer(queue, "system_error", build_context(st, now))]
        self._notify(st, actions)
        return Turn(actions, st, flow, [ev])


def _http_spec(flow: Flow, name: str) -> Optional[dict]:
    hook = flow.hooks.get(name)
    return hook.model_dump() if hook else None
