"""Check the numpy encoder against resemblyzer on torch, live (``python -m tests.auth.check_resemblyzer``).

Not part of ``make test``: serving needs no torch, so the suite checks the stored
reference numbers instead (tests/auth/test_encoder.py). Run this where
``pip install torch==2.13.0 resemblyzer`` is done, e.g. after changing the front end.
"""

from __future__ import annotations

import numpy as np

from ivr.auth import SpeakerEncoder
from ivr.auth.features import mel_frames, preprocess
from tests.auth.test_encoder import REFERENCE, _audio


def main() -> None:
    import resemblyzer  # needs torch

    ref = resemblyzer.VoiceEncoder("cpu", verbose=False)
    encoder = SpeakerEncoder.shared()
    for case in REFERENCE["cases"]:
        pcm = _audio(case)
        x = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
        wav = resemblyzer.preprocess_wav(x, source_sr=8000)
        ours, _ = preprocess(pcm)
        np.testing.assert_allclose(ours, wav, atol=1e-6)
        np.testing.assert_allclose(mel_frames(wav), resemblyzer.audio.wav_to_mel_spectrogram(wav), rtol=1e-4,
                                   atol=1e-6)
        np.testing.assert_allclose(encoder.embed(pcm)[0], ref.embed_utterance(wav), atol=1e-5)
        print(f"{case['voice']}: equal to resemblyzer")


if __name__ == "__main__":
    main()
