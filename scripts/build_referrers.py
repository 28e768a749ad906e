"""Build tracking/data/referrers.json from Snowplow's referer-parser database plus our own additions.

Upstream: https://github.com/snowplow-referer-parser/referer-parser (Apache-2.0), the generated JSON
snapshot `resources/referers-2025-03-24-140145.json` at commit a88dd39879847265ed1738a6acdffda7872cc9ee.
Download it (raw.githubusercontent.com/snowplow-referer-parser/referer-parser/<commit>/resources/...), then:

    .venv/bin/python scripts/build_referrers.py --input referers-2025-03-24-140145.json

Snowplow's file maps medium -> source name -> {"domains": [...], "parameters": [...]}. We keep host-level
entries only (the classifier sees hosts; entries with a path such as "google.com/imgres" are dropped, their
host is listed anyway), drop "www.", rename a few sources to the names our dashboards use, and put our own
ADDITIONS on top: AI assistants, newsletters, modern social networks and search engines, video and podcast
hosts, affiliate networks, and the payment / sign-in pages that must never count as a source. An addition
wins over an upstream entry for the same host; every override is printed so a rebuild shows what changed.

Only the standard library is used, so this runs without the project's virtualenv.
"""

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

UPSTREAM = {
    "project": "https://github.com/snowplow-referer-parser/referer-parser",
    "file": "resources/referers-2025-03-24-140145.json",
    "commit": "a88dd39879847265ed1738a6acdffda7872cc9ee",
    "license": "Apache-2.0",
}
OUTPUT = Path(__file__).resolve().parent.parent / "tracking" / "data" / "referrers.json"

# Our medium vocabulary; tracking/sources.py turns these into channels.
MEDIUMS = ("search", "social", "video", "ai", "email", "audio", "affiliate", "ads", "referral", "payment", "auth")
UPSTREAM_MEDIUMS = {"search": "search", "social": "social", "email": "email", "paid": "ads", "unknown": "referral"}

# Upstream names -> ours. Image/product/blog verticals are the same engine to a marketer.
RENAMES = {
    "Twitter": "X (Twitter)",
    "Youtube": "YouTube",
    "Google Images": "Google",
    "Google Blogsearch": "Google",
    "Google Product Search": "Google",
    "Google Video": "Google",
    "Bing Images": "Bing",
    "Yahoo! Images": "Yahoo!",
    "Yandex Images": "Yandex",
    "Naver Images": "Naver",
    "Vkontakte": "VK",
    "StackOverflow": "Stack Overflow",
}
# Upstream files video sites under "social"; GA4 has a separate video channel.
MEDIUM_OVERRIDES = {"YouTube": "video", "Vimeo": "video"}
# Upstream hosts that are wrong at host level: CNN's and Fastweb's site search were Google-powered, but a
# link from an article on those sites is a referral, not a Google search.
EXCLUDE = {"cnn.com", "fastweb.it"}

ADDITIONS = {
    "ai": {
        "ChatGPT": ["chatgpt.com", "chat.openai.com", "com.openai.chatgpt"],
        "Perplexity": ["perplexity.ai", "perplexity.com", "ai.perplexity.app.android"],
        "Claude": ["claude.ai", "com.anthropic.claude"],
        "Gemini": ["gemini.google.com", "bard.google.com", "com.google.android.apps.bard"],
        "Copilot": [
            "copilot.microsoft.com",
            "copilot.cloud.microsoft",
            "m365.cloud.microsoft",
            "edgeservices.bing.com",
            "com.microsoft.copilot",
        ],
        "NotebookLM": ["notebooklm.google.com"],
        "Google AI Studio": ["aistudio.google.com"],
        "DeepSeek": ["chat.deepseek.com"],
        "Grok": ["grok.com"],
        "Mistral Le Chat": ["chat.mistral.ai"],
        "Meta AI": ["meta.ai"],
        "You.com": ["you.com"],
        "Phind": ["phind.com"],
        "Poe": ["poe.com"],
        "Duck.ai": ["duck.ai"],
        "Kimi": ["kimi.com", "kimi.moonshot.cn"],
        "Qwen": ["chat.qwen.ai"],
        "Pi": ["pi.ai"],
    },
    "search": {
        "Google": ["google.com", "scholar.google.com", "lens.google.com"],
        "Bing": ["bing.com", "cn.bing.com"],
        "DuckDuckGo": ["duckduckgo.com", "duck.com"],
        "Yandex": ["ya.ru", "yandex.com.tr", "yandex.kz", "yandex.eu", "yandex.uz"],
        "Baidu": ["baidu.com"],
        "Ecosia": ["ecosia.org"],
        "Sogou": ["sogou.com", "m.sogou.com"],
        "Naver": ["m.search.naver.com"],
        "Seznam": ["seznam.cz"],
        "Qwant": ["qwant.com"],
        "Kagi": ["kagi.com"],
        "Startpage": ["startpage.com"],
        "Mojeek": ["mojeek.com"],
        "Presearch": ["presearch.com"],
        "Swisscows": ["swisscows.com"],
        "MetaGer": ["metager.org"],
        "Petal Search": ["petalsearch.com"],
        "Yep": ["yep.com"],
    },
    "social": {
        "X (Twitter)": ["x.com", "twitter.com", "t.co"],
        "Facebook": ["fb.com", "facebook.com"],
        "Facebook Messenger": ["messenger.com", "com.facebook.orca"],
        "Instagram": ["instagram.com"],
        "Threads": ["threads.com"],
        "Bluesky": ["bsky.app", "go.bsky.app"],
        "Mastodon": [
            "mastodon.social",
            "mastodon.online",
            "mstdn.social",
            "fosstodon.org",
            "hachyderm.io",
            "infosec.exchange",
            "mas.to",
        ],
        "LinkedIn": ["linkedin.com", "lnkd.in"],
        "Reddit": ["reddit.com", "redd.it", "com.reddit.frontpage"],
        "Hacker News": ["news.ycombinator.com", "hn.algolia.com", "hckrnews.com"],
        "Lobsters": ["lobste.rs"],
        "GitHub": ["github.com"],
        "Pinterest": ["pin.it"],
        "TikTok": ["tiktok.com", "com.zhiliaoapp.musically"],
        "Discord": ["discord.com", "discord.gg", "discordapp.com", "com.discord"],
        "Telegram": ["t.me", "telegram.org"],
        "WhatsApp": ["wa.me", "whatsapp.com"],
        "Slack": ["slack.com"],
        "Microsoft Teams": ["teams.microsoft.com", "teams.live.com"],
        "LINE": ["line.me"],
        "Stack Exchange": ["stackexchange.com"],
        "Flipboard": ["flipboard.com"],
        "Nextdoor": ["nextdoor.com"],
        "Xiaohongshu": ["xiaohongshu.com"],
        "Linktree": ["linktr.ee"],
    },
    "video": {
        "YouTube": ["youtube.com", "youtu.be", "youtube-nocookie.com", "com.google.android.youtube"],
        "Vimeo": ["vimeo.com"],
        "Twitch": ["twitch.tv"],
        "Kick": ["kick.com"],
        "Dailymotion": ["dailymotion.com"],
        "Rumble": ["rumble.com"],
        "Bilibili": ["bilibili.com"],
        "Loom": ["loom.com"],
    },
    "audio": {
        "Spotify": ["open.spotify.com", "spotify.com"],
        "Apple Podcasts": ["podcasts.apple.com"],
        "Overcast": ["overcast.fm"],
        "Pocket Casts": ["pocketcasts.com", "pca.st"],
    },
    "email": {
        "Substack": ["substack.com"],
        "Beehiiv": ["beehiiv.com"],
        "Mailchimp": ["mailchimp.com", "mailchi.mp", "list-manage.com", "eepurl.com"],
        "Kit": ["kit.com", "convertkit.com", "ck.page"],
        "Buttondown": ["buttondown.email", "buttondown.com"],
        "MailerLite": ["mailerlite.com", "mlsend.com"],
        "Klaviyo": ["klaviyo.com", "klclick.com"],
        "Brevo": ["brevo.com", "sendinblue.com"],
        "SendGrid": ["sendgrid.net"],
        "Mailjet": ["mjt.lu"],
        "Loops": ["loops.so"],
        "Outlook.com": ["outlook.office.com", "outlook.office365.com", "outlook.live.com"],
        "Gmail": ["mail.google.com"],
        "Fastmail": ["fastmail.com", "app.fastmail.com"],
        "Tuta": ["app.tuta.com", "mail.tutanota.com"],
        "HEY": ["app.hey.com"],
        "Zoho": ["mail.zoho.eu"],
    },
    "affiliate": {
        "Awin": ["awin1.com"],
        "ShareASale": ["shareasale.com"],
        "CJ Affiliate": ["anrdoezrs.net", "dpbolvw.net", "jdoqocy.com", "kqzyfj.com", "tkqlhce.com"],
        "Rakuten Advertising": ["linksynergy.com"],
        "Skimlinks": ["skimresources.com"],
        "Sovrn Commerce": ["viglink.com"],
        "Partnerize": ["prf.hn"],
        "Tradedoubler": ["tradedoubler.com"],
        "Webgains": ["webgains.com"],
        "AvantLink": ["avantlink.com"],
        "FlexOffers": ["flexoffers.com"],
    },
    "referral": {
        # Google's own apps: without these, docs.google.com would fall back to google.com (search).
        "Google": [
            "docs.google.com",
            "calendar.google.com",
            "meet.google.com",
            "chat.google.com",
            "classroom.google.com",
            "keep.google.com",
            "photos.google.com",
            "play.google.com",
            "translate.google.com",
            "ads.google.com",
            "analytics.google.com",
            "search.google.com",
        ],
        "Product Hunt": ["producthunt.com"],
        "Indie Hackers": ["indiehackers.com"],
        "Medium": ["medium.com"],
        "DEV": ["dev.to"],
        "Hashnode": ["hashnode.com"],
        "Wikipedia": ["wikipedia.org"],
    },
    # Never a source: the visitor is coming back from paying or signing in, not arriving.
    "payment": {
        "Stripe": [
            "checkout.stripe.com",
            "billing.stripe.com",
            "pay.stripe.com",
            "buy.stripe.com",
            "invoice.stripe.com",
            "hooks.stripe.com",
            "connect.stripe.com",
        ],
        "PayPal": ["paypal.com", "paypal.me"],
        "Paddle": [
            "checkout.paddle.com",
            "buy.paddle.com",
            "pay.paddle.com",
            "sandbox-checkout.paddle.com",
            "sandbox-buy.paddle.com",
        ],
        "Lemon Squeezy": ["lemonsqueezy.com"],
        "Gumroad": ["gumroad.com"],
        "Polar": ["buy.polar.sh"],
        "Chargebee": ["chargebee.com"],
        "FastSpring": ["onfastspring.com"],
        "2Checkout": ["2checkout.com"],
        "Shopify Checkout": ["checkout.shopify.com", "shop.app"],
        "Google Pay": ["pay.google.com"],
        "Amazon Pay": ["pay.amazon.com", "payments.amazon.com"],
        "Klarna": ["klarna.com"],
        "Mollie": ["mollie.com"],
        "Adyen": ["adyen.com"],
        "Razorpay": ["razorpay.com"],
        "Paystack": ["checkout.paystack.com"],
    },
    "auth": {
        "Google Sign-in": ["accounts.google.com"],
        "Microsoft Sign-in": ["login.live.com", "login.microsoftonline.com"],
        "Apple Sign-in": ["appleid.apple.com"],
        "Auth0": ["auth0.com"],
        "Okta": ["okta.com"],
    },
}

# Values seen in utm_source / ref / source that name a known source without being its host or name.
ALIASES = {
    "google": "Google",
    "adwords": "Google",
    "googleads": "Google",
    "google_ads": "Google",
    "google-ads": "Google",
    "bing": "Bing",
    "microsoft": "Bing",
    "microsoft_ads": "Bing",
    "ddg": "DuckDuckGo",
    "fb": "Facebook",
    "meta": "Facebook",
    "ig": "Instagram",
    "insta": "Instagram",
    "twitter": "X (Twitter)",
    "x": "X (Twitter)",
    "tw": "X (Twitter)",
    "li": "LinkedIn",
    "yt": "YouTube",
    "hn": "Hacker News",
    "hackernews": "Hacker News",
    "ycombinator": "Hacker News",
    "gh": "GitHub",
    "tiktok": "TikTok",
    "openai": "ChatGPT",
    "chatgpt": "ChatGPT",
    "perplexity": "Perplexity",
    "claude": "Claude",
    "anthropic": "Claude",
    "bard": "Gemini",
    "gemini": "Gemini",
    "copilot": "Copilot",
    "bingchat": "Copilot",
    "producthunt": "Product Hunt",
    "product_hunt": "Product Hunt",
    "product-hunt": "Product Hunt",
    "ph": "Product Hunt",
    "indiehackers": "Indie Hackers",
    "bluesky": "Bluesky",
    "bsky": "Bluesky",
    "mastodon": "Mastodon",
    "convertkit": "Kit",
    "sendinblue": "Brevo",
}


def normalize_host(domain):
    host = domain.strip().lower().rstrip(".")
    return host[4:] if host.startswith("www.") and host.count(".") >= 2 else host


def build(upstream):
    """(hosts, sources, aliases) from Snowplow's parsed JSON; `hosts` maps host -> [source, medium]."""
    hosts, overrides = {}, []
    for upstream_medium, entries in upstream.items():
        medium = UPSTREAM_MEDIUMS[upstream_medium]
        for name, info in entries.items():
            name = RENAMES.get(name, name)
            entry_medium = MEDIUM_OVERRIDES.get(name, medium)
            for domain in info["domains"]:
                if "/" in domain:
                    continue
                host = normalize_host(domain)
                if host not in EXCLUDE:
                    hosts.setdefault(host, [name, entry_medium])
    for medium, entries in ADDITIONS.items():
        assert medium in MEDIUMS, medium
        for name, domains in entries.items():
            for domain in domains:
                host = normalize_host(domain)
                if host in hosts and hosts[host] != [name, medium]:
                    overrides.append(f"{host}: {hosts[host]} -> {[name, medium]}")
                hosts[host] = [name, medium]

    # A source's own medium (for utm_source=google with no host to look at): its most common one, where
    # "referral" counts only when there is nothing else (Google's app hosts must not outvote its search).
    by_source = {}
    for name, medium in hosts.values():
        by_source.setdefault(name, Counter())[medium] += 1
    sources = {}
    for name, counts in by_source.items():
        ranked = [medium for medium, _ in counts.most_common()]
        sources[name] = next((medium for medium in ranked if medium != "referral"), ranked[0])
    for medium in ("payment", "auth"):  # a payment page is never a source, not even by name
        for name in ADDITIONS[medium]:
            sources.pop(name, None)

    aliases = {}
    for name in sources:
        aliases.setdefault(name.lower(), name)
    for alias, name in ALIASES.items():
        assert name in sources, name
        aliases[alias] = name
    return hosts, sources, aliases, overrides


def render(hosts, sources, aliases, input_sha256):
    """JSON with one host per line, so a rebuild's diff reads host by host."""
    meta = {
        "about": "Referrer hosts -> [source, medium] for tracking/sources.py. Generated: do not edit by hand.",
        "generated_by": "scripts/build_referrers.py",
        "upstream": {**UPSTREAM, "input_sha256": input_sha256},
        "mediums": list(MEDIUMS),
    }
    lines = ["{"]
    for key, value in meta.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
    for key, mapping in (("sources", sources), ("aliases", aliases), ("hosts", hosts)):
        lines.append(f'  "{key}": {{')
        items = sorted(mapping.items())
        for index, (name, value) in enumerate(items):
            comma = "," if index < len(items) - 1 else ""
            lines.append(f"    {json.dumps(name, ensure_ascii=False)}: {json.dumps(value, ensure_ascii=False)}{comma}")
        lines.append("  }" + ("," if key != "hosts" else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, type=Path, help="Snowplow referers JSON (see module docstring)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    raw = args.input.read_bytes()
    hosts, sources, aliases, overrides = build(json.loads(raw))
    for line in overrides:
        print("override", line, file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(hosts, sources, aliases, hashlib.sha256(raw).hexdigest()), encoding="utf-8")
    print(f"{args.output}: {len(hosts)} hosts, {len(sources)} sources, {len(aliases)} aliases", file=sys.stderr)


if __name__ == "__main__":
    main()
