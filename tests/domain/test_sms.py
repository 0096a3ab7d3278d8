from shop_app.domain.sms import GSM7, MAX_SMS_SEGMENTS, UCS2, SmsLength, check_sms_cap, is_gsm7, sms_length


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
    assert "4 SMS segments" in over.describe() and "UCS-2" in over.describe()
    assert check_sms_cap("a" * 161, cap=1).over
