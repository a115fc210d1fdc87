"""Prompt audio: TTS rendering off the request path, telephone audio, the cache.

The engine emits prompts as (text, language, voice, rate) -- a
:class:`PromptSpec`. Builds render them ahead of time in a worker process
(:func:`build`); transports ask the :class:`PromptCache` for audio and fall
back to ``<Say>`` when there is none. pyttsx3 is imported only in the worker.
"""

from ivr.prompts.assemble import (
    AssembledPrompt,
    assemble,
    pieces_for_build,
    resolve_audio,
    static_specs,
)
from ivr.prompts.audio import FRAME_BYTES, SAMPLE_RATE, TelephoneAudio, convert_file, read_frames
from ivr.prompts.background import BackgroundRenderer
from ivr.prompts.builder import BuildReport, build
from ivr.prompts.cache import PromptAudio, PromptCache
from ivr.prompts.render import Renderer, RenderResult
from ivr.prompts.sayas import say, say_date, say_digits, say_integer, say_money, say_time
from ivr.prompts.spec import FORMAT_VERSION, PromptSpec

__all__ = [
    "FORMAT_VERSION", "FRAME_BYTES", "SAMPLE_RATE", "AssembledPrompt", "BackgroundRenderer",
    "BuildReport", "PromptAudio", "PromptCache", "PromptSpec", "RenderResult", "Renderer",
    "TelephoneAudio", "assemble", "build", "convert_file", "pieces_for_build", "read_frames",
    "resolve_audio", "say", "say_date", "say_digits", "say_integer", "say_money", "say_time",
    "static_specs",
]
