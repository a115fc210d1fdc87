"""Italian system phrases (``it-IT`` flows such as ``banca``): the same keys and placeholders as English."""

LANGUAGE = "it"

TEXTS: dict[str, str] = {
    "no_input": "Scusi, non ho sentito nulla.",
    "no_match": "Scusi, non ho capito.",
    "confirm": "Ha detto {phrase}? Dica sì o no. Oppure prema 1 per sì, 2 per no.",
    "escalate": "La metto in contatto con un operatore. Resti in linea.",
    "agent": "Certo, la metto in contatto con un operatore. Resti in linea.",
    "error": "Scusi, si è verificato un problema. La metto in contatto con un operatore.",
    "hold_on": "Un momento, prego.",
    "closed": "Scusi, il servizio che può aiutarla in questo momento è chiuso.",
    "opens": "Riapre {when}.",
    "survey_range_csat": "Mi scusi, risponda con un numero da 1 a 5.",
    "survey_range_ces": "Mi scusi, risponda con un numero da 1 a 7.",
    "survey_range_nps": "Mi scusi, risponda con un numero da 0 a 10.",
    "survey_yesno": "Mi scusi, prema 1 o dica sì, oppure prema 2 o dica no.",
    "survey_thanks": "Grazie per la sua opinione.",
    "opening": "{day} alle {clock}",
    "clock_hour": "{hour}",
    "clock_minute": "{hour}:{minute}",
    "today": "oggi",
    "tomorrow": "domani",
    "on_weekday": "{weekday}",
    "weekday_0": "lunedì",
    "weekday_1": "martedì",
    "weekday_2": "mercoledì",
    "weekday_3": "giovedì",
    "weekday_4": "venerdì",
    "weekday_5": "sabato",
    "weekday_6": "domenica",
    "queue_next": "Lei è il prossimo in linea.",
    "queue_position": "Lei è il numero {position} in coda.",
    "wait_under_minute": "L'attesa prevista è inferiore a un minuto.",
    "wait_minute": "L'attesa prevista è di circa un minuto.",
    "wait_minutes": "L'attesa prevista è di circa {minutes} minuti.",
    "wait_options": "Per essere richiamato, prema 1. Per lasciare un messaggio, prema 2. Oppure resti in linea.",
    "wait_options_speech": "Per essere richiamato, prema 1 o dica richiamatemi. Per lasciare un messaggio, "
                           "prema 2. Oppure resti in linea.",
    "wait_options_callback": "Per essere richiamato, prema 1. Oppure resti in linea.",
    "wait_options_callback_speech": "Per essere richiamato, prema 1 o dica richiamatemi. Oppure resti in linea.",
    "wait_options_voicemail": "Per lasciare un messaggio, prema 2. Oppure resti in linea.",
    "already_in_line": "Lei è già in coda per parlare con un operatore. Resti in linea, la serviremo al più presto.",
    "goodbye": "Grazie per aver chiamato. Arrivederci.",
    "survey_offer": "Vuole rispondere a un breve sondaggio sulla sua chiamata? Prema 1 o dica sì. Prema 2 o dica no.",
    "queue_failed": "Scusi, in questo momento non possiamo mantenere il suo posto in coda.",
    "nobody_answered": "Scusi, in questo momento nessuno può rispondere alla sua chiamata.",
    "leave_options": "Per essere richiamato, prema 1. Per lasciare un messaggio, prema 2.",
    "leave_options_voicemail": "Per lasciare un messaggio, prema 2.",
    "whisper_unknown": "Chiamata in arrivo dal risponditore automatico.",
    "callback_confirm": "Possiamo richiamarla al numero {number:digits}. Prema 1 per usare questo numero, oppure 2 "
                        "per inserirne un altro.",
    "callback_enter": "Digiti il numero da richiamare, con il prefisso, poi il tasto cancelletto.",
    "callback_not_full": "Scusi, questo non è un numero di telefono completo.",
    "callback_readback": "Ha digitato {number:digits}. Prema 1 se è corretto, oppure 2 per digitarlo di nuovo.",
    "callback_message_instead": "Allora lasci un messaggio.",
    "callback_windows": "Quando preferisce essere richiamato? Il prima possibile, prema 1. Al mattino, tra le 9 e "
                        "le 12, prema 2. Al pomeriggio, tra le 12 e le 17, prema 3. Alla sera, tra le 17 e le 20, "
                        "prema 4.",
    "callback_promise": "Grazie. La richiameremo al numero {number:digits} {when}. Arrivederci.",
    "when_free": "appena un operatore sarà libero",
    "when_open": "alla riapertura, {opening}",
    "when_soon": "il prima possibile",
    "when_window": "{day} {window}",
    "window_morning": "al mattino",
    "window_afternoon": "al pomeriggio",
    "window_evening": "alla sera",
    "callback_hello": "Buongiorno, questa è la richiamata che ha chiesto. Resti in linea, la metto in contatto con "
                      "un operatore.",
    "callback_gone": "Scusi, questa richiamata non è più necessaria. Arrivederci.",
    "voicemail_prompt": "Lasci il suo messaggio dopo il segnale acustico. Prema il tasto cancelletto quando ha "
                        "finito.",
    "voicemail_none": "Non abbiamo ricevuto alcun messaggio. Arrivederci.",
    "voicemail_saved": "Grazie. Il suo messaggio è stato registrato e la persona giusta la ricontatterà. "
                       "Arrivederci.",
}

CALLBACK_WORDS: tuple[str, ...] = ("richiamatemi", "mi richiami", "mi richiamate", "richiamata", "richiamare",
                                   "essere richiamato", "essere richiamata")
VOICEMAIL_WORDS: tuple[str, ...] = ("messaggio", "lasciare un messaggio", "segreteria", "segreteria telefonica")

SCORE_WORDS: dict[str, int] = {"zero": 0, "uno": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6,
                               "sette": 7, "otto": 8, "nove": 9, "dieci": 10}
"""Numeri detti come risposta a un sondaggio ("un nove"); il primo di ogni valore è quello ascoltato."""

SCALE_WORDS: tuple[str, ...] = ("su {max}",)
"""Come si dice il massimo della scala ("nove su dieci"): quel numero non è la risposta."""

SCORE_FRAMES: tuple[str, ...] = ("{n}", "un {n}", "{n} su {max}")
