"""Choosing a TTS voice for a prompt, without importing any TTS library.

Why a separate, pure module: the choice runs inside the render worker (the
only process that may import pyttsx3) but must be testable with plain data,
and its errors must list the voices that do exist so a designer can fix the
flow.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.errors import PromptError

#: Languages whose TTS voice has another code than the caller-facing tag.
LANGUAGE_ALIASES: dict[str, str] = {
    "zh": "cmn", "zh-cn": "cmn", "zh-sg": "cmn", "zh-tw": "cmn", "zh-hans": "cmn",
    "zh-hant": "cmn", "cmn-cn": "cmn", "cmn-hans": "cmn", "zh-hk": "yue", "zh-yue": "yue",
    "nb": "nb", "no": "nb", "iw": "he", "in": "id",
}


@dataclass(frozen=True)
class VoiceInfo:
    """A TTS voice as the worker reports it (pyttsx3's ``Voice`` in plain data)."""

    id: str
    name: str
    languages: tuple[str, ...]


def clean_language(lang: object) -> str:
    """Normalise a voice's language as the TTS driver reports it.

    espeak via older pyttsx3 reports ``b"\\x05en-us"`` (priority byte first),
    newer ones ``"en-us"``; both become ``en-us``.
    """
    if isinstance(lang, bytes):
        lang = lang.decode("utf-8", "replace")
    text = str(lang).lstrip("".join(chr(i) for i in range(32))).strip()
    return text.replace("_", "-").lower()


def _tail(voice_id: str) -> str:
    return voice_id.rsplit("/", 1)[-1].lower()


def choose_voice(voices: list[VoiceInfo], language: str, voice: str | None = None) -> VoiceInfo:
    """Pick the voice for a prompt.

    An explicit ``voice`` must match a voice id, a name (case-insensitive) or
    the last part of an id (``en-us`` for ``gmw/en-us``). Otherwise the best
    voice for ``language`` wins: exact language tag, then the same base
    language preferring the most generic variant (``it-IT`` -> ``it``,
    ``en-GB`` -> ``en-gb``, ``zh`` -> Mandarin ``cmn``).

    Raises:
        PromptError: if nothing matches; the message lists what is available.
    """
    if voice:
        want = voice.strip().lower()
        for test in (lambda v: v.id.lower() == want, lambda v: v.name.lower() == want,
                     lambda v: _tail(v.id) == want):
            found = [v for v in voices if test(v)]
            if found:
                return found[0]
        sample = ", ".join(sorted(v.id for v in voices)[:12])
        raise PromptError(f"no TTS voice {voice!r}; use a voice id such as: {sample} ...")

    lang = language.strip().replace("_", "-").lower()
    lang = LANGUAGE_ALIASES.get(lang, lang)
    base = lang.split("-")[0]
    base = LANGUAGE_ALIASES.get(base, base)
    best: tuple[tuple[int, int, int, str], VoiceInfo] | None = None
    for v in voices:
        langs = [clean_language(x) for x in v.languages] or [_tail(v.id)]
        for vl in langs:
            vbase = vl.split("-")[0]
            if vl == lang or _tail(v.id) == lang:
                rank = 0
            elif vbase == base and (vl == base or _tail(v.id) == base):
                rank = 1
            elif vbase == base:
                rank = 2
            else:
                continue
            # Fewer subtags = the generic voice; avoid "latn-pinyin"-style variants.
            score = (rank, vl.count("-"), len(vl), v.id)
            if best is None or score < best[0]:
                best = (score, v)
    if best is None:
        bases = sorted({clean_language(x).split("-")[0] for v in voices for x in v.languages})
        raise PromptError(f"no TTS voice speaks {language!r}; languages available: "
                          f"{', '.join(bases[:40])}; set voice: in the flow or install a voice")
    return best[1]
