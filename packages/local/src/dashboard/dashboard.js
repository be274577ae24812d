// The local archive's dashboard: reads the same API the frontend uses and refreshes when /stream sends a notice.
const LATEST_COUNT = 24;
const $ = (id) => document.getElementById(id);

const state = {
  site: new URLSearchParams(location.search).get("site") ?? "",
  sites: new Set(),
  known: new Set(),
};

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (response.status === 404 || response.status === 204) return undefined;
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

const pad = (n) => String(n).padStart(2, "0");

function utc(ms) {
  if (ms === null || ms === undefined) return "—";
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function sexagesimal(value, sign) {
  if (value === null || value === undefined) return "—";
  const negative = value < 0;
  let rest = Math.abs(value);
  const whole = Math.floor(rest);
  rest = (rest - whole) * 60;
  const minutes = Math.floor(rest);
  const seconds = ((rest - minutes) * 60).toFixed(1).padStart(4, "0");
  return `${sign ? (negative ? "−" : "+") : negative ? "−" : ""}${pad(whole)}:${pad(minutes)}:${seconds}`;
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function renderSites() {
  const select = $("site");
  const sites = [...new Set([state.site, ...state.sites])].filter(Boolean).sort();
  select.replaceChildren(...sites.map((site) => element("option", { value: site, text: site })));
  select.value = state.site;
  for (const node of document.querySelectorAll(".site-name")) node.textContent = state.site;
}

function exposureCard(image, fresh) {
  const picture = element("img", {
    class: "picture",
    alt: `thumbnail of ${image.base_filename}`,
    loading: "lazy",
    "data-base": image.base_filename,
    "data-kind": image.jpg_thumbnail_url ? "thumbnail" : "medium",
    src: image.jpg_thumbnail_url || image.jpg_url,
  });
  const row = (label, value) => element("div", { class: "row" }, [element("span", { text: label }), element("span", { text: value })]);
  const card = element("article", { class: `exposure${fresh ? " fresh" : ""}`, "data-base": image.base_filename }, [
    element("a", { href: image.jpg_url || "#", target: "_blank", rel: "noopener" }, [picture]),
    element("div", { class: "meta" }, [
      element("div", { class: "name", text: image.base_filename }),
      element("div", { class: "row" }, [element("span", { text: "status" }), element("span", {}, [statusBadge(image.base_filename)])]),
      row("time", utc(image.capture_date)),
      row("filter", image.filter_used ?? "—"),
      row("exposure", image.exposure_time === null ? "—" : `${image.exposure_time} s`),
      // The package holds degrees; observers read RA in hours.
      row("RA", sexagesimal(image.right_ascension === null ? null : image.right_ascension / 15, false)),
      row("Dec", sexagesimal(image.declination, true)),
    ]),
  ]);
  if (fresh) setTimeout(() => card.classList.remove("fresh"), 4000);
  return card;
}

// Each card's badge is filled from GET /status/{base_filename}; a stuck exposure shows "stuck" over its status.
function statusBadge(base) {
  return element("span", { class: "status", "data-status-of": base, "data-status": "unknown", text: "…" });
}

function showStatus(badge, status) {
  const shown = status.stuck ? "stuck" : status.status;
  badge.dataset.status = shown;
  badge.textContent = shown;
  badge.title = status.missing?.length ? `missing: ${status.missing.join(", ")}` : "every expected file is here";
  if (status.generated_preview && !badge.nextElementSibling) {
    badge.after(element("span", { class: "status generated", title: `preview made from ${status.generated_preview.source_key}`, text: "preview from FITS" }));
  }
}

async function loadStatuses() {
  const badges = [...document.querySelectorAll("[data-status-of]")];
  await Promise.all(
    badges.map(async (badge) => {
      const status = await getJson(`/status/${encodeURIComponent(badge.dataset.statusOf)}`);
      if (status) showStatus(badge, status);
    }),
  );
}

async function loadExposures() {
  const site = state.site;
  const images = (await getJson(`/${encodeURIComponent(site)}/latest_images/${LATEST_COUNT}`)) ?? [];
  if (site !== state.site) return;
  const firstLoad = state.known.size === 0;
  $("exposures").replaceChildren(...images.map((image) => exposureCard(image, !firstLoad && !state.known.has(image.base_filename + image.jpg_small_exists))));
  state.known = new Set(images.map((image) => image.base_filename + image.jpg_small_exists));
  $("exposures-empty").hidden = images.length > 0;
  $("latest-count").textContent = images.length ? `(${images.length})` : "";
  await loadStatuses();
}

const ago = (iso) => {
  const minutes = Math.round((Date.now() - Date.parse(iso)) / 60_000);
  return minutes < 60 ? `${minutes} min ago` : `${Math.round(minutes / 60)} h ago`;
};
const counter = (n) => String(n).padStart(8, "0");

function listIssues(id, items, render) {
  $(id).replaceChildren(...items.map(render));
  $(`${id}-empty`).hidden = items.length > 0;
}

/** The operator's panel: the site's stuck exposures, the counter gaps of its newest exposure's day, its quarantine. */
async function loadAttention() {
  const site = state.site;
  const query = `site=${encodeURIComponent(site)}`;
  const newest = ((await getJson(`/${encodeURIComponent(site)}/latest_images/1`)) ?? [])[0];
  const day = newest?.base_filename.split("-")[2];
  const [stuck, gaps, quarantine] = await Promise.all([
    getJson(`/stuck?${query}`),
    day ? getJson(`/gaps/${encodeURIComponent(site)}?day=${day}`) : undefined,
    getJson(`/quarantine?${query}`),
  ]);
  if (site !== state.site) return;
  const stuckExposures = stuck?.exposures ?? [];
  $("stuck-count").textContent = stuckExposures.length ? `(${stuckExposures.length})` : "";
  listIssues("stuck", stuckExposures, (exposure) =>
    element("li", { "data-base": exposure.base_filename }, [
      element("span", { class: "key", text: exposure.base_filename }),
      element("span", { class: "muted", text: `${exposure.status} since ${ago(exposure.announced_at ?? exposure.receiving_at)} · missing ${exposure.missing.join(", ")}` }),
    ]),
  );
  $("gaps-day").textContent = day ? `(${day})` : "";
  const gapLines = (gaps?.instruments ?? []).flatMap(({ instrument, missing }) =>
    missing.map((range) => ({ instrument, text: range.from === range.to ? counter(range.from) : `${counter(range.from)}–${counter(range.to)}` })),
  );
  listIssues("gaps", gapLines, (gap) =>
    element("li", { "data-instrument": gap.instrument }, [element("span", { class: "key", text: `${gap.instrument} ${gap.text}` })]),
  );
  // Re-ingested objects stay listed by the API until refused again or gone; the panel shows what still waits.
  const refused = (quarantine?.objects ?? []).filter((entry) => entry.state === "quarantined");
  $("quarantine-count").textContent = refused.length ? `(${refused.length})` : "";
  listIssues("quarantine", refused, (entry) =>
    element("li", { "data-key": entry.object_key }, [
      element("span", { class: "key", text: entry.object_key }),
      element("span", { class: "muted", text: `${entry.reason} · ${ago(entry.quarantined_at)}` }),
      element("span", { class: "muted", text: entry.error }),
    ]),
  );
}

/** The observing night of a moment: noon to noon UTC around it, as `YYYY-MM-DD HH:mm:ss` the frontend sends. */
function nightAround(ms) {
  const noon = new Date(ms);
  if (noon.getUTCHours() < 12) noon.setUTCDate(noon.getUTCDate() - 1);
  noon.setUTCHours(12, 0, 0, 0);
  const end = new Date(noon.getTime() + 86_400_000 - 1000);
  return { start: utc(noon.getTime()), end: utc(end.getTime()) };
}

function stackLabel(image) {
  return /^\d+$/.test(image.SMARTSTK) ? `smart stack ${image.SMARTSTK}, step ${image.SSTKNUM}` : "";
}

/** The site's last night as the frontend's night view reads it: /filtered_images, smart stacks collapsed. */
async function loadNight() {
  const site = state.site;
  const newest = ((await getJson(`/${encodeURIComponent(site)}/latest_images/1`)) ?? [])[0];
  if (site !== state.site) return;
  if (!newest) {
    $("night").replaceChildren();
    $("night-range").textContent = "";
    return;
  }
  const night = nightAround(newest.capture_date);
  const query = new URLSearchParams({ site, start_date: night.start, end_date: night.end });
  const images = (await getJson(`/filtered_images?${query}`)) ?? [];
  if (site !== state.site) return;
  const stacks = images.filter((image) => stackLabel(image) !== "").length;
  $("night-range").textContent = `${night.start} – ${night.end} UTC · ${images.length} exposures${stacks ? `, ${stacks} smart stacks shown at their last step` : ""}`;
  $("night").replaceChildren(
    ...images.map((image) =>
      element("figure", { class: "night-exposure", "data-base": image.base_filename, title: image.base_filename }, [
        element("img", { src: image.jpg_thumbnail_url || image.jpg_url, alt: `night exposure ${image.base_filename}`, loading: "lazy" }),
        element("figcaption", { text: [utc(image.capture_date).slice(11), image.filter_used ?? "", stackLabel(image)].filter(Boolean).join(" · ") }),
      ]),
    ),
  );
}

async function loadChannels() {
  const site = state.site;
  const channels = await Promise.all([1, 2, 3].map((n) => getJson(`/infoimage/${encodeURIComponent(site)}/${n}`)));
  if (site !== state.site) return;
  $("channels").replaceChildren(
    ...channels.map((info, index) => {
      const label = element("div", { class: "label", text: `Channel ${index + 1}` });
      if (!info) return element("div", { class: "channel" }, [element("div", {}, [label, element("div", { class: "muted", text: "empty" })])]);
      const src = info.jpg_small_url || info.jpg_url;
      return element("div", { class: "channel filled", "data-base": info.base_filename }, [
        ...(src ? [element("img", { src, alt: `info image ${info.base_filename}` })] : []),
        element("div", {}, [
          label,
          element("div", { class: "name muted", text: info.base_filename }),
          element("div", { class: "muted", text: `expires ${utc(info.expiration_timestamp * 1000)}` }),
        ]),
      ]);
    }),
  );
}

async function loadUploads() {
  const site = state.site;
  const entries = (await getJson(`/recentuploads?site=${encodeURIComponent(site)}`)) ?? [];
  if (site !== state.site) return;
  $("uploads").replaceChildren(
    ...entries.slice(0, 50).map((entry) =>
      element("tr", {}, [
        element("td", { text: utc(entry.upload_timestamp_s * 1000) }),
        element("td", { class: "file", text: entry.filename }),
        element("td", { text: entry.filename.split("/")[0] }),
        element("td", { class: "num", text: size(entry.size_bytes) }),
      ]),
    ),
  );
  $("uploads-empty").hidden = entries.length > 0;
}

async function loadSites() {
  const entries = (await getJson("/recentuploads?site=all")) ?? [];
  for (const entry of entries) state.sites.add(entry.site);
  if (!state.site) state.site = entries[0]?.site ?? "tst";
  renderSites();
}

function report(error) {
  console.error(error);
}

function refreshAll() {
  return Promise.all([loadExposures(), loadNight(), loadChannels(), loadUploads(), loadAttention()]).catch(report);
}

// Several files of one exposure arrive together; one refresh per burst is enough.
let pending;
function refreshSoon(notice) {
  clearTimeout(pending);
  pending = setTimeout(() => {
    const work = [loadUploads()];
    if (notice.data?.s3_directory === "info-images") work.push(loadChannels());
    else work.push(loadExposures(), loadNight(), loadAttention());
    Promise.all(work).catch(report);
  }, 250);
}

function connect(delay = 500) {
  const live = $("live");
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/stream`);
  socket.addEventListener("open", () => {
    live.dataset.state = "open";
    live.textContent = "live";
    delay = 500;
  });
  socket.addEventListener("message", (event) => {
    const notice = JSON.parse(event.data);
    if (!state.sites.has(notice.site)) {
      state.sites.add(notice.site);
      renderSites();
    }
    if (notice.site === state.site) refreshSoon(notice);
  });
  socket.addEventListener("close", () => {
    live.dataset.state = "closed";
    live.textContent = "reconnecting…";
    setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
  });
}

$("site").addEventListener("change", (event) => {
  state.site = event.target.value;
  state.known = new Set();
  history.replaceState(null, "", `?site=${encodeURIComponent(state.site)}`);
  renderSites();
  refreshAll();
});

await loadSites().catch(report);
state.site ||= "tst";
renderSites();
await refreshAll();
connect();
// An exposure turns stuck with time alone, when nothing arrives: no notice says so.
setInterval(() => Promise.all([loadStatuses(), loadAttention()]).catch(report), 20_000);
