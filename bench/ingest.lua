-- wrk script for `make bench-ingest` (driven by bench/ingest.py; see bench/README.md).
--
-- Posts what real trackers send: page views, engagement for earlier page views, custom events (some with
-- revenue), from a pool of visitors (IP in X-Forwarded-For, a real browser's User-Agent) plus a few bots,
-- with varied referrers, UTM tags and paths.
--
-- Exact accounting. For BENCH_SECONDS each thread sends "main" events to BENCH_DOMAIN; after that it sends
-- "tail" events to BENCH_TAIL_DOMAIN with Sec-GPC: 1 — a site that honours GPC, so they are answered
-- 202 + X-Humblytics-Dropped: opted-out and stored nowhere. The tail keeps the load steady while the last
-- main requests are answered, and the response hook can tell every answer apart by its header alone:
--   no header -> an accepted main event (must become exactly one row or one engagement update),
--   "bot" -> a main bot event (a drop count), "opted-out" -> tail (ignored).
-- wrk runs a little longer than BENCH_SECONDS; main requests still unanswered when it stops are reported
-- (in_flight_at_end), so "accepted vs landed" never mixes in requests whose answer nobody saw.
-- Visitors: a pool of 10,000 (address, browser) pairs per thread; a page view's engagement and events
-- come from its visitor, as they would from a real browser.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]])
local clock_buf = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, clock_buf) -- CLOCK_MONOTONIC
  return tonumber(clock_buf.tv_sec) + tonumber(clock_buf.tv_nsec) * 1e-9
end

local PATH = os.getenv("BENCH_PATH") or "/api/event"
local DOMAIN = os.getenv("BENCH_DOMAIN") or "bench.test"
local TAIL_DOMAIN = os.getenv("BENCH_TAIL_DOMAIN") or "tail.bench.test"
local SECONDS = tonumber(os.getenv("BENCH_SECONDS") or "30")
local RUN = os.getenv("BENCH_RUN") or "r0"
local SEED = tonumber(os.getenv("BENCH_SEED") or "1")
local ENGAGE_AFTER = 3.0 -- seconds: far longer than any answer, so the page view is in the stream first

local BROWSERS = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
  "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
  "Mozilla/5.0 (Android 14; Mobile; rv:132.0) Gecko/132.0 Firefox/132.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/114.0.0.0",
  "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/489.0.0.52.109;]",
}
local BOTS = {
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
  "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
  "python-requests/2.32.3",
  "curl/8.5.0",
}
local REFERRERS = {
  false, false, false, false, -- direct: no referrer
  "https://www.google.com/", "https://www.google.com/", "https://www.google.de/", "https://www.bing.com/",
  "https://duckduckgo.com/", "https://t.co/", "https://www.facebook.com/", "https://l.facebook.com/",
  "https://www.linkedin.com/", "https://news.ycombinator.com/", "https://www.reddit.com/r/analytics/",
  "https://chatgpt.com/", "https://github.com/", "https://mail.google.com/", "https://some-blog.dev/post/42",
  "self", -- an internal link
}
local PAGES = { "/", "/", "/pricing", "/features", "/docs/getting-started", "/docs/api", "/about", "/signup", "/blog" }
local TAGS = {
  "?utm_source=newsletter&utm_medium=email&utm_campaign=launch",
  "?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=web+analytics",
  "?utm_source=twitter&utm_medium=social",
  "?ref=producthunt",
  "?gclid=Cj0KCQiA4NWrBhD",
  "?fbclid=IwAR2xyz",
}
local WIDTHS = { 390, 414, 768, 1280, 1366, 1440, 1536, 1920, 2560 }
local EVENTS = { "Signup", "Outbound Link: Click", "File Download", "Purchase", "Newsletter" }

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

-- per-thread state (each wrk thread has its own Lua state)
local visitors = {}
local queue, q_head, q_tail = {}, 1, 0 -- page views waiting for their engagement: {t, view, visitor, url}
local ev_view, ev_visitor, ev_url, ev_count = nil, nil, nil, 99
local counter = 0
local deadline

sent_main, sent_pageviews, sent_engagements, sent_events, sent_bots, sent_tail = 0, 0, 0, 0, 0, 0
responses, accepted, bots, other_dropped, tail, non202 = 0, 0, 0, 0, 0, 0

local function pick(list)
  return list[math.random(#list)]
end

local function random_ip()
  if math.random() < 0.06 then
    return string.format("2a02:%x:%x::%x", math.random(4096, 65535), math.random(0, 65535), math.random(1, 65535))
  end
  local a = math.random(1, 223)
  while a == 10 or a == 127 do
    a = math.random(1, 223)
  end
  return string.format("%d.%d.%d.%d", a, math.random(0, 255), math.random(0, 255), math.random(1, 254))
end

function init(args)
  math.randomseed(SEED * 1000 + tid)
  for i = 1, 10000 do
    visitors[i] = { ip = random_ip(), ua = pick(BROWSERS) }
  end
  deadline = now() + SECONDS
end

local function new_view_id()
  counter = counter + 1
  return string.format("b%s%dx%012d", RUN, tid, counter)
end

local function page_url(domain)
  local path = pick(PAGES)
  if path == "/blog" then
    path = string.format("/blog/post-%d", math.random(1, 400))
  end
  if math.random() < 0.2 then
    path = path .. pick(TAGS)
  end
  return "https://" .. domain .. path
end

local function post(body, ua, ip, extra)
  local headers = {
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["User-Agent"] = ua,
    ["X-Forwarded-For"] = ip,
    ["Origin"] = "https://" .. DOMAIN,
    ["Accept"] = "*/*",
    ["Accept-Language"] = "en-US,en;q=0.9",
  }
  if extra then
    for k, v in pairs(extra) do
      headers[k] = v
    end
  end
  return wrk.format("POST", PATH, headers, body)
end

local function forwarded(visitor)
  if math.random() < 0.1 then -- a client-written entry left of the trusted proxy's: must be ignored
    return random_ip() .. ", " .. visitor.ip
  end
  return visitor.ip
end

local function pageview_body(domain, url, view_id)
  local referrer = pick(REFERRERS)
  local r = "null"
  if referrer == "self" then
    r = '"https://' .. domain .. '/"'
  elseif referrer then
    r = '"' .. referrer .. '"'
  end
  return string.format('{"n":"pageview","u":"%s","d":"%s","r":%s,"w":%d,"v":"%s"}', url, domain, r, pick(WIDTHS), view_id)
end

local function pageview(t)
  local visitor = visitors[math.random(#visitors)]
  local url = page_url(DOMAIN)
  local view_id = new_view_id()
  q_tail = q_tail + 1
  queue[q_tail] = { t = t, view = view_id, visitor = visitor, url = url }
  ev_view, ev_visitor, ev_url, ev_count = view_id, visitor, url, 0
  sent_pageviews = sent_pageviews + 1
  return post(pageview_body(DOMAIN, url, view_id), visitor.ua, forwarded(visitor))
end

local function engagement(entry)
  sent_engagements = sent_engagements + 1
  local body = string.format(
    '{"n":"engagement","u":"%s","d":"%s","v":"%s","sd":%d,"e":%d,"i":false}',
    entry.url, DOMAIN, entry.view, math.random(0, 100), math.random(1000, 600000)
  )
  return post(body, entry.visitor.ua, forwarded(entry.visitor))
end

local function custom_event()
  local view_id, visitor, url = ev_view, ev_visitor, ev_url
  if ev_view == nil or ev_count >= #EVENTS then -- a fresh view: every (view, name) is sent once
    view_id, visitor, url = new_view_id(), visitors[math.random(#visitors)], page_url(DOMAIN)
  end
  ev_count = ev_count + 1
  local name = EVENTS[((ev_count - 1) % #EVENTS) + 1]
  local extra = ""
  if name == "Purchase" then
    extra = string.format(',"$":{"amount":"%d.00","currency":"%s"}', math.random(5, 500), pick({ "USD", "EUR", "GBP" }))
  elseif name == "Signup" then
    extra = ',"p":{"plan":"' .. pick({ "free", "pro", "team" }) .. '"}'
  elseif name == "Outbound Link: Click" then
    extra = ',"p":{"url":"https://github.com/humblytics"}'
  end
  sent_events = sent_events + 1
  local body = string.format('{"n":"%s","u":"%s","d":"%s","v":"%s"%s}', name, url, DOMAIN, view_id, extra)
  return post(body, visitor.ua, forwarded(visitor))
end

local function tail_request()
  local visitor = visitors[math.random(#visitors)]
  local url = page_url(TAIL_DOMAIN)
  return post(pageview_body(TAIL_DOMAIN, url, new_view_id()), visitor.ua, visitor.ip, { ["Sec-GPC"] = "1" })
end

local primed = false

function request()
  if not primed then
    -- wrk calls request() once on the first thread to inspect it and never sends that one; the first
    -- call of every thread is therefore a tail event, which is harmless whether it is sent or not.
    primed = true
    return tail_request()
  end
  local t = now()
  if t >= deadline then
    sent_tail = sent_tail + 1
    return tail_request()
  end
  sent_main = sent_main + 1
  local r = math.random()
  if r < 0.04 then
    sent_bots = sent_bots + 1
    local body = pageview_body(DOMAIN, page_url(DOMAIN), new_view_id())
    return post(body, pick(BOTS), random_ip())
  end
  r = math.random()
  if r < 0.25 and q_head <= q_tail and queue[q_head].t <= t - ENGAGE_AFTER then
    local entry = queue[q_head]
    queue[q_head] = nil
    q_head = q_head + 1
    return engagement(entry)
  elseif r < 0.42 then
    return custom_event()
  end
  return pageview(t)
end

function response(status, headers, body)
  local dropped = headers["X-Humblytics-Dropped"]
  if dropped == "opted-out" then
    tail = tail + 1
    return
  end
  responses = responses + 1
  if status ~= 202 then
    non202 = non202 + 1
  elseif dropped == nil then
    accepted = accepted + 1
  elseif dropped == "bot" then
    bots = bots + 1
  else
    other_dropped = other_dropped + 1
  end
end

local COUNTERS = {
  "sent_main", "sent_pageviews", "sent_engagements", "sent_events", "sent_bots", "sent_tail",
  "responses", "accepted", "bots", "other_dropped", "tail", "non202",
}

function done(summary, latency, requests)
  local totals = {}
  for _, name in ipairs(COUNTERS) do
    totals[name] = 0
    for _, thread in ipairs(threads) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
  end
  local parts = {}
  for _, name in ipairs(COUNTERS) do
    table.insert(parts, string.format('"%s":%d', name, totals[name]))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {%s,"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    table.concat(parts, ","), summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout
  ))
end
