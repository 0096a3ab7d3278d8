from shop_app.domain.sms import (
    GSM7,
    MAX_SMS_SEGMENTS,
    UCS2,
    SmsLength,
    check_sms_cap,
    gsm_fold,
    is_gsm7,
    non_gsm_characters,
    sms_length,
)


def test_gsm7_single_segment_boundary():
    assert sms_length("a" * 160) == SmsLength(GSM7, 160, 1)
    assert sms_length("a" * 161) == SmsLength(GSM7, 161, 2)


def test_gsm7_concatenated_parts_hold_153():
    assert sms_length("a" * 306).segments == 2
    assert sms_length("a" * 307).segments == 3
    assert sms_length("a" * 459).segments == 3
    assert sms_length("a" * 460).segments == 4


def test_ucs2_boundaries():
    assert sms_length("á" * 70) == SmsLength(UCS2, 70, 1)
    assert sms_length("á" * 71) == SmsLength(UCS2, 71, 2)
    assert sms_length("á" * 134).segments == 2
    assert sms_length("á" * 135).segments == 3


def test_one_non_gsm_character_switches_the_whole_text():
    text = "a" * 69 + "ó"
    assert sms_length(text) == SmsLength(UCS2, 70, 1)
    assert sms_length("a" * 70 + "ó").segments == 2


def test_gsm_accents_stay_gsm7():
    assert is_gsm7("¿Qué tal? ¡Añade más!") is False  # á is not in GSM-7
    assert is_gsm7("¿Qué? ¡Niño! é ñ ü à Ç") is True


def test_extension_characters_cost_two_septets():
    assert sms_length("€") == SmsLength(GSM7, 2, 1)
    assert sms_length("€" * 80) == SmsLength(GSM7, 160, 1)
    assert sms_length("€" * 80 + "a").segments == 2
    assert sms_length("[" * 80) == SmsLength(GSM7, 160, 1)
    assert sms_length("a" * 159 + "]") == SmsLength(GSM7, 161, 2)


def test_escape_pair_is_never_split_across_parts():
    # 152 septets then '{' (2): the pair does not fit in part one, so it opens part two.
    text = "a" * 152 + "{" + "a" * 152
    assert sms_length(text) == SmsLength(GSM7, 306, 3)


def test_emoji_count_two_utf16_units():
    assert sms_length("😀") == SmsLength(UCS2, 2, 1)
    assert sms_length("😀" * 35) == SmsLength(UCS2, 70, 1)
    assert sms_length("😀" * 35 + "a") == SmsLength(UCS2, 71, 2)
    # 66 units then an emoji: the surrogate pair moves whole to part two.
    assert sms_length("a" * 66 + "😀" + "a" * 66).segments == 3


def test_empty_text():
    assert sms_length("") == SmsLength(GSM7, 0, 0)


def test_cap_check_counts_and_flags():
    assert MAX_SMS_SEGMENTS == 3
    fits = check_sms_cap("a" * 459)
    assert (fits.length.segments, fits.over) == (3, False)
    over = check_sms_cap("ó" * 202)
    assert (over.length.segments, over.over) == (4, True)
    assert over.describe() == "SMS is 4 segments (UCS-2: ó; 202 characters) — the cap is 3"
    assert check_sms_cap("a" * 161, cap=1).over
    assert check_sms_cap("a" * 10).describe() == "SMS is 1 segment (GSM-7; 10 characters) — the cap is 3"


def test_the_cap_check_names_the_characters_that_force_ucs2():
    check = check_sms_cap("Hola Lucía, “oferta” 😀 sí\u200b")
    assert check.non_gsm == ("í", "“", "”", "😀", "\u200b")
    assert "(UCS-2: í, “, ”, 😀, U+200B;" in check.describe()
    assert non_gsm_characters("ó" * 50 + "á") == ("ó", "á")
    assert check_sms_cap("niño é").non_gsm == ()


def test_gsm_fold_spells_data_in_gsm7_or_gives_up():
    assert gsm_fold("Lucía Núñez") == "Lucia Nuñez"  # ñ exists in GSM-7, ú does not
    assert gsm_fold("Zoë Łukasz Ça") == "Zoe Lukasz Ça"
    assert gsm_fold("“Straw” hat – large…") == '"Straw" hat - large...'
    assert gsm_fold("ﬁne") == "fine"
    assert gsm_fold("Дмитрий") is None and gsm_fold("😀 hat") is None
    for text in ("Lucía Núñez", "“Straw” hat – large…", "Ça va ß"):
        assert is_gsm7(gsm_fold(text))
