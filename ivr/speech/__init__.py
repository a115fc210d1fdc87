"""The offline speech layer: codecs, VAD, grammars, ASR backends, Media Streams."""

from ivr.speech.asr import BACKENDS, get_recognizer
from ivr.speech.asr.base import Hypothesis, RecognitionSession, Recognizer
from ivr.speech.codec import (
    StreamResampler,
    pcm16_to_ulaw,
    read_wav,
    resample,
    ulaw_to_pcm16,
    write_wav,
)
from ivr.speech.grammar import Grammar, digits_grammar, key_to_words, words_to_digits
from ivr.speech.mediastreams import ProtocolError, parse_message
from ivr.speech.models import download_model, find_model
from ivr.speech.vad import EndpointDetector, SpeechEnded, SpeechStarted, VadConfig

__all__ = [
    "BACKENDS", "EndpointDetector", "Grammar", "Hypothesis", "ProtocolError",
    "RecognitionSession", "Recognizer", "SpeechEnded", "SpeechStarted", "StreamResampler",
    "VadConfig", "digits_grammar", "download_model", "find_model", "get_recognizer",
    "key_to_words", "parse_message", "pcm16_to_ulaw", "read_wav", "resample",
    "ulaw_to_pcm16", "words_to_digits", "write_wav",
]
