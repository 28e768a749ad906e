import pytest

from tracking.devices import MAX_UA_LENGTH, Device, any_match, parse_user_agent, screen_class

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.60 Safari/537.36"
)

BROWSERS = {
    "chrome on windows": (
        CHROME_WINDOWS,
        Device("Chrome", "124.0", "Windows", "10", "Desktop"),
    ),
    "safari on an iphone": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4.1 Mobile/15E148 Safari/604.1",
        Device("Safari", "17.4", "iOS", "17.4", "Mobile"),
    ),
    "safari on an ipad": (
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 "
        "Mobile/15E148 Safari/604.1",
        Device("Safari", "16.6", "iOS", "16.6", "Tablet"),
    ),
    "safari on a mac": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
        "Safari/605.1.15",
        Device("Safari", "17.4", "Mac", "10.15", "Desktop"),
    ),
    "firefox on linux": (
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        Device("Firefox", "125.0", "Linux", "", "Desktop"),
    ),
    "firefox on ubuntu counts as linux": (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        Device("Firefox", "125.0", "Linux", "", "Desktop"),
    ),
    "edge on windows": (
        CHROME_WINDOWS + " Edg/124.0.2478.51",
        Device("Edge", "124.0", "Windows", "10", "Desktop"),
    ),
    "opera on windows": (
        CHROME_WINDOWS + " OPR/109.0.0.0",
        Device("Opera", "109.0", "Windows", "10", "Desktop"),
    ),
    "samsung internet on an android tablet": (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 "
        "Chrome/117.0.0.0 Safari/537.36",
        Device("Samsung Internet", "24.0", "Android", "13", "Tablet"),
    ),
    "samsung internet on an android phone": (
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 "
        "Chrome/117.0.0.0 Mobile Safari/537.36",
        Device("Samsung Internet", "24.0", "Android", "14", "Mobile"),
    ),
    "chrome mobile counts as chrome": (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile "
        "Safari/537.36",
        Device("Chrome", "124.0", "Android", "10", "Mobile"),
    ),
    "chrome on ios counts as chrome": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
        Device("Chrome", "124.0", "iOS", "17.4", "Mobile"),
    ),
    "firefox on an android tablet": (
        "Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0",
        Device("Firefox", "125.0", "Android", "14", "Tablet"),
    ),
    "an android web view is a mobile app without version": (
        "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Version/4.0 Chrome/115.0.5790.166 Mobile Safari/537.36",
        Device("Mobile App", "", "Android", "13", "Mobile"),
    ),
    "chrome on chrome os": (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
        "Safari/537.36",
        Device("Chrome", "124.0", "Chrome OS", "14541.0", "Desktop"),
    ),
    "a windows 'tablet pc' laptop stays a desktop": (
        "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; Touch; Tablet PC 2.0; rv:11.0) like Gecko",
        Device("Internet Explorer", "11.0", "Windows", "7", "Desktop"),
    ),
    "a smart tv is other": (
        "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 "
        "Chrome/76.0.3809.146 TV Safari/537.36",
        Device("Samsung Internet", "4.0", "Tizen", "6.0", "Other"),
    ),
    "non-ascii garbage is an unknown human": (
        "Møzïllá/5.0 (Ünknöwn; 日本語; ☃) Ωmega/1.0 💥",
        Device("", "", "", "", "Other"),
    ),
}

BOTS = {
    "googlebot": ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler"),
    "googlebot smartphone": (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.6367.201 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "crawler",
    ),
    "bingbot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) "
        "Chrome/116.0.1938.76 Safari/537.36",
        "crawler",
    ),
    "gptbot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
        "crawler",
    ),
    "claudebot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
        "crawler",
    ),
    "perplexitybot behind a chrome ua": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36 (compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)",
        "crawler",
    ),
    "facebook's link preview": ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "crawler"),
    "ahrefs": ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "crawler"),
    "headless chrome": (HEADLESS_CHROME, "headless"),
    "phantomjs": (
        "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
        "headless",
    ),
    "lighthouse": (
        "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
        "headless",
    ),
    "an electron scraper": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) scraper/1.0.0 "
        "Chrome/120.0.6099.291 Electron/28.2.3 Safari/537.36",
        "headless",
    ),
    "curl": ("curl/8.5.0", "automation"),
    "wget": ("Wget/1.21.4", "automation"),
    "python-requests": ("python-requests/2.31.0", "automation"),
    "python's urllib": ("Python-urllib/3.11", "automation"),
    "go": ("Go-http-client/2.0", "automation"),
    "axios": ("axios/1.6.8", "automation"),
    "node-fetch": ("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "automation"),
    "java": ("Java/17.0.2", "automation"),
    "okhttp": ("okhttp/4.12.0", "automation"),
    "postman": ("PostmanRuntime/7.37.3", "automation"),
    "empty": ("", "no-user-agent"),
    "only spaces": ("   ", "no-user-agent"),
    "none": (None, "no-user-agent"),
    "5,000 characters of garbage": ("Mozilla/5.0 " + "x" * 4988, "too-long"),
}


@pytest.mark.parametrize(("ua", "expected"), BROWSERS.values(), ids=BROWSERS.keys())
def test_it_parses_real_browsers(ua, expected):
    assert parse_user_agent(ua) == expected
    assert not parse_user_agent(ua).is_bot


@pytest.mark.parametrize(("ua", "reason"), BOTS.values(), ids=BOTS.keys())
def test_it_flags_bots_with_a_reason_and_no_other_fields(ua, reason):
    assert parse_user_agent(ua) == Device(bot_reason=reason)
    assert parse_user_agent(ua).is_bot


def test_it_parses_a_user_agent_at_the_length_limit_and_flags_one_character_more():
    padded = CHROME_WINDOWS + " " * (MAX_UA_LENGTH - len(CHROME_WINDOWS))
    assert len(padded) == MAX_UA_LENGTH
    assert parse_user_agent(padded).browser == "Chrome"
    assert parse_user_agent(padded + "x").bot_reason == "too-long"


def test_it_caps_names_taken_from_the_user_agent():
    device = parse_user_agent("Mozilla/5.0 (Windows NT 10.0) " + "A" * 200 + "Browser/1.0")
    assert len(device.browser) <= 40
    assert len(device.browser_version) <= 16


def test_it_answers_the_same_frozen_object_for_a_repeated_user_agent():
    first = parse_user_agent(CHROME_WINDOWS)
    assert parse_user_agent(CHROME_WINDOWS) is first
    with pytest.raises(AttributeError):
        first.browser = "Netscape"


@pytest.mark.parametrize(
    ("width", "expected"),
    [
        (1, "Mobile"),
        (375, "Mobile"),
        (575, "Mobile"),
        (576, "Tablet"),
        (991, "Tablet"),
        (992, "Laptop"),
        (1439, "Laptop"),
        (1440, "Desktop"),
        (3840, "Desktop"),
        (575.9, "Mobile"),
        (1440.0, "Desktop"),
    ],
)
def test_it_buckets_screen_widths_like_plausible(width, expected):
    assert screen_class(width) == expected


@pytest.mark.parametrize("width", [None, 0, -1, True, "1024", float("nan"), float("inf"), 10**9, [1024]])
def test_it_gives_no_screen_class_for_unusable_widths(width):
    assert screen_class(width) == ""


def test_any_match_runs_patterns_rust_cannot_compile_through_python():
    # crawlerdetect's "Yandex(?!Search)" needs a look-ahead, which Rust's regex syntax lacks.
    matches = any_match([r"Yandex(?!Search)", r"Googlebot"], ignore_case=True)
    assert matches("Mozilla/5.0 (compatible; YandexBot/3.0)")
    assert matches("googlebot/2.1")
    assert not matches("YandexSearch/1.0")
    assert not matches("Mozilla/5.0 (Windows NT 10.0) Chrome/124.0")
