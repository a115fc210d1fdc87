"""What a prompt is, and the key that names its audio.

The engine emits prompts as (text, language, voice, rate). Everything below it
(renderer, cache, transports) identifies the audio for such a prompt by one
stable key, so that a prompt whose wording and settings did not change is
never rendered twice, and a prompt whose settings did change (a new voice, a
new speaking rate, an edited sentence) gets new audio instead of stale audio.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass

#: Bumped whenever the audio for an unchanged spec would come out differently
#: (new conversion pipeline, new default rate, new loudness target). Changing
#: it changes every key, so the next build renders everything anew and the old
#: files become prunable.
FORMAT_VERSION = 1

#: Language assumed when a flow names none.
DEFAULT_LANGUAGE = "en-US"

_SPACE = re.compile(r"\s+")
_LANG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


def normalize_text(text: str) -> str:
    """Return the form of ``text`` that decides whether two prompts sound alike.

    Why: designers re-indent YAML and editors swap composed and decomposed
    accents; neither changes what a caller hears, so neither may force a
    re-render. Case and punctuation are kept, because TTS reads "US" and "us"
    differently and punctuation shapes the pauses.
    """
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def normalize_language(language: str) -> str:
    """Return a BCP 47 tag in canonical case (``en-us`` -> ``en-US``).

    Why: ``en-us``, ``en_US`` and ``en-US`` name the same language and must
    share audio.

    Raises:
        ValueError: if ``language`` does not look like a language tag.
    """
    lang = language.strip().replace("_", "-")
    if not _LANG.match(lang):
        raise ValueError(f"not a language tag: {language!r} (use e.g. 'en-US', 'it-IT', 'cmn')")
    parts = lang.split("-")
    out = [parts[0].lower()]
    for p in parts[1:]:
        if len(p) == 2:
            out.append(p.upper())
        elif len(p) == 4 and p.isalpha():
            out.append(p.title())
        else:
            out.append(p.lower())
    return "-".join(out)


@dataclass(frozen=True)
class PromptSpec:
    """One prompt as the engine asks for it: what to say and how.

    Attributes:
        text: the words to speak, as written in the flow.
        language: BCP 47 tag; picks the TTS voice when ``voice`` is None.
        voice: a TTS voice id (for espeak e.g. ``gmw/en-us``) or voice name;
            None lets the renderer pick a voice for ``language``.
        rate: speaking rate in words per minute; None is the renderer default.
    """

    text: str
    language: str = DEFAULT_LANGUAGE
    voice: str | None = None
    rate: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not normalize_text(self.text):
            raise ValueError("a prompt needs some text to speak")
        object.__setattr__(self, "language", normalize_language(self.language))
        if self.voice is not None and not self.voice.strip():
            object.__setattr__(self, "voice", None)
        if self.rate is not None:
            if isinstance(self.rate, bool) or not isinstance(self.rate, int):
                raise ValueError(f"rate must be words per minute as an int, not {self.rate!r}")
            if not 50 <= self.rate <= 500:
                raise ValueError(f"rate {self.rate} wpm is outside 50..500")

    @property
    def normalized_text(self) -> str:
        """The text as it enters the key (see :func:`normalize_text`)."""
        return normalize_text(self.text)

    @property
    def key(self) -> str:
        """A stable name for this prompt's audio, safe as a file name.

        Why a hash: it is the same on every machine and every run (unlike
        ``hash()``), it has a fixed length whatever the text, and it covers
        every setting that changes the sound, plus :data:`FORMAT_VERSION`.
        """
        payload = json.dumps(
            [FORMAT_VERSION, self.normalized_text, self.language, self.voice, self.rate],
            ensure_ascii=False, separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]

    def as_dict(self) -> dict[str, object]:
        """Plain fields, for manifests and JSON output."""
        return {"text": self.text, "language": self.language,
                "voice": self.voice, "rate": self.rate}


def is_key(name: str) -> bool:
    """Tell whether ``name`` has the shape of a :attr:`PromptSpec.key`.

    Why: pruning deletes only files that this module could have named, never
    a file someone else put in the directory.
    """
    return len(name) == 32 and all(c in "0123456789abcdef" for c in name)
