from ivr.speech.grammar import Grammar, digits_grammar, key_to_words, words_to_digits


def test_grammar_normalises_and_dedupes():
    g = Grammar(("Balance", "my  balance!", "balance"), "en-US")
    assert g.phrases == ("balance", "my balance")
    assert g.words() == ["balance", "my"]


def test_key_to_words():
    assert key_to_words("1") == "one"
    assert key_to_words("10") == "one zero"
    assert key_to_words("#") == "pound"
    assert key_to_words("Lost card") == "lost card"


def test_words_to_digits():
    assert words_to_digits("four one oh two") == "4102"
    assert words_to_digits("four apples") is None
    assert words_to_digits("") is None


def test_digits_grammar():
    g = digits_grammar()
    assert g.digits and "oh" in g.phrases and "nine" in g.phrases
