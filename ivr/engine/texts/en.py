"""English system phrases: the reference catalogue every other language must match key for key.

Placeholders are ``{name}`` or ``{name:kind}`` fields (:mod:`ivr.flow.templates`): the kind says how
rendered audio reads the value (``digits`` reads a phone number digit by digit), the text keeps it as given.
"""

LANGUAGE = "en"

TEXTS: dict[str, str] = {
    # -- the engine's own phrases (self-service turns) --
    "no_input": "Sorry, I didn't hear anything.",
    "no_match": "Sorry, I didn't catch that.",
    "confirm": "Did you say {phrase}? Say yes or no. Or press 1 for yes, 2 for no.",
    "escalate": "Let me get you to a person who can help. Please hold.",
    "agent": "Sure, connecting you to a person. Please hold.",
    "error": "Sorry, something went wrong on our side. Connecting you to a person.",
    "hold_on": "One moment, please.",  # while a slow hook runs (keypad: then a <Redirect>)
    "closed": "Sorry, the team that can help is closed right now.",
    "opens": "They open {when}.",
    # -- surveys: an answer out of range, then the question again; thanks after the last one --
    "survey_range_csat": "Sorry, please answer with a number from 1 to 5.",
    "survey_range_ces": "Sorry, please answer with a number from 1 to 7.",
    "survey_range_nps": "Sorry, please answer with a number from 0 to 10.",
    "survey_yesno": "Sorry, please press 1 or say yes, or press 2 or say no.",
    "survey_thanks": "Thank you for your feedback.",
    # -- when a team opens: "at 9 AM tomorrow" --
    "opening": "at {clock} {day}",
    "clock_hour": "{hour12} {ampm}",
    "clock_minute": "{hour12}:{minute} {ampm}",
    "today": "today",
    "tomorrow": "tomorrow",
    "on_weekday": "on {weekday}",
    "weekday_0": "Monday",
    "weekday_1": "Tuesday",
    "weekday_2": "Wednesday",
    "weekday_3": "Thursday",
    "weekday_4": "Friday",
    "weekday_5": "Saturday",
    "weekday_6": "Sunday",
    # -- the queue's wait loop --
    "queue_next": "You are next in line.",
    "queue_position": "You are number {position} in line.",
    "wait_under_minute": "Your expected wait is less than a minute.",
    "wait_minute": "Your expected wait is about a minute.",
    "wait_minutes": "Your expected wait is about {minutes} minutes.",
    "wait_options": "To have us call you back instead, press 1. To leave a message, press 2. Or stay on the line.",
    "wait_options_speech": "To have us call you back instead, press 1 or say callback. To leave a message, "
                           "press 2. Or stay on the line.",
    "wait_options_callback": "To have us call you back instead, press 1. Or stay on the line.",
    "wait_options_callback_speech": "To have us call you back instead, press 1 or say callback. "
                                    "Or stay on the line.",
    "wait_options_voicemail": "To leave a message, press 2. Or stay on the line.",
    "already_in_line": "You are already in line for a person. Please stay on the line; we will be with you shortly.",
    "goodbye": "Thank you for calling. Goodbye.",
    "survey_offer": "Would you answer a short survey about your call? Press 1 or say yes. Press 2 or say no.",
    # -- leaving the queue: a callback or a message --
    "queue_failed": "Sorry, we cannot hold your place in line right now.",
    "nobody_answered": "Sorry, nobody could take your call right now.",
    "leave_options": "To have us call you back, press 1. To leave a message, press 2.",
    "leave_options_voicemail": "To leave a message, press 2.",
    "whisper_unknown": "Incoming call from the IVR.",
    # -- the callback dialogue --
    "callback_confirm": "We can call you back on {number:digits}. Press 1 to use this number, or 2 to enter a "
                        "different one.",
    "callback_enter": "Please enter the number we should call, with the area code, then press the pound key.",
    "callback_not_full": "Sorry, that is not a full phone number.",
    "callback_readback": "You entered {number:digits}. Press 1 if that is right, or 2 to enter it again.",
    "callback_message_instead": "Let's take a message instead.",
    "callback_windows": "When should we call you? For as soon as possible, press 1. For in the morning, between 9 "
                        "and 12, press 2. For in the afternoon, between 12 and 5, press 3. For in the evening, "
                        "between 5 and 8, press 4.",
    "callback_promise": "Thank you. We will call you back on {number:digits} {when}. Goodbye.",
    "when_free": "as soon as a person is free",
    "when_open": "when we open, {opening}",
    "when_soon": "as soon as we can",
    "when_window": "{window} {day}",
    "window_morning": "in the morning",
    "window_afternoon": "in the afternoon",
    "window_evening": "in the evening",
    "callback_hello": "Hello, this is the call back you asked for. Please hold while we connect you to a person.",
    "callback_gone": "Sorry, this call back is no longer needed. Goodbye.",
    # -- voicemail --
    "voicemail_prompt": "Please leave your message after the tone. Press the pound key when you have finished.",
    "voicemail_none": "We did not get a message. Goodbye.",
    "voicemail_saved": "Thank you. Your message has been saved, and the right person will get back to you. "
                       "Goodbye.",
}

CALLBACK_WORDS: tuple[str, ...] = ("callback", "call back", "call me back", "call me")
"""What a waiting caller says to be called back instead."""

VOICEMAIL_WORDS: tuple[str, ...] = ("voicemail", "voice mail", "message", "leave a message")
"""What a waiting caller says to leave a message instead."""

SCORE_WORDS: dict[str, int] = {"zero": 0, "nought": 0, "nil": 0, "one": 1, "two": 2, "three": 3, "four": 4,
                               "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
"""Numbers a caller says as a survey answer ("a nine"); the first word of each value is the one listened for."""

SCALE_WORDS: tuple[str, ...] = ("out of {max}", "over {max}")
"""How the top of a scale is said ("nine out of ten"): that number is not the answer."""

SCORE_FRAMES: tuple[str, ...] = ("{n}", "a {n}", "{n} out of {max}")
"""How callers say a score, for the recogniser's grammar ({n}: the score, {max}: the top of the scale)."""
