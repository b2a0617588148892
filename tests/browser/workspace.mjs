// The web workspace end to end in real headless Chromium, against the real binary that
// scripts/browser.sh started: an admin invites an agent, the agent sets a password, signs in,
// watches a focus group finish live, reads its charts (numbers compared with the API's), downloads
// a CSV, prints the seller report; another team's agent gets 404 for the private client and the
// simulation; a forged form is refused; markup typed as a name stays text; no request leaves the
// origin; axe-core finds no serious or critical violation on any page. Screenshots go to
// $ARTIFACTS.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const { BASE, ADMIN_KEY, ALICE_KEY, ARTIFACTS = "artifacts" } = process.env;
const ORIGIN = new URL(BASE).origin;
const PASSWORD = "a long enough passphrase";
const HOSTILE = "<script>alert(1)</script>";
mkdirSync(ARTIFACTS, { recursive: true });

async function api(key, method, path, body) {
  const response = await fetch(`${BASE}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function seed() {
  const users = (await api(ADMIN_KEY, "GET", "/users")).items;
  const id = (name) => users.find((u) => u.name === name).id;
  const invite = async (name) =>
    (await api(ADMIN_KEY, "POST", `/users/${id(name)}/invite`, { email: `${name}@acme.example` })).url;
  const clients = [
    ["Ada Vale", "finance", "brokerage"], ["Ben Marsh", "finance", "brokerage"],
    ["Cy Ortega", "tech", "brokerage"], ["Di Laurent", "tech", "brokerage"],
    [HOSTILE, "tech", "brokerage"], ["Quiet Client", "finance", "private"],
  ];
  const ids = {};
  for (const [name, segment, visibility] of clients) {
    ids[name] = (await api(ALICE_KEY, "POST", "/personas", {
      name, segment, visibility,
      biography: "Collects <b>Burgundy</b> & modern art.",
      preferences: { features: ["wine cellar", "ocean views"], budget: { max: 30000000 } },
    })).id;
  }
  const listing = await api(ALICE_KEY, "POST", "/properties", {
    title: "Ridgeline Estate, Aspen",
    description: "Ski-in ski-out estate with a wine cellar and a heated pool.",
    price: 24000000,
    location: { city: "Aspen", region: "Colorado", country: "USA" },
    features: ["wine cellar", "heated pool"],
    // Same-origin links that do not load: the page shows each caption in its place.
    photos: [
      { url: `${ORIGIN}/assets/missing-1.jpg`, description: "Great room with mountain views" },
      { url: `${ORIGIN}/assets/missing-2.jpg`, description: "Heated pool under snow" },
    ],
    candidate_modifications: ["Add a wellness spa", "Convert the ski room into a gym"],
  });
  return { boss: await invite("boss"), ids, listing: listing.id };
}

/// A page that fails the test on any request to another origin and on any dialog (an alert
/// would mean typed markup ran).
async function guardedPage(context, offOrigin) {
  const page = await context.newPage();
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (!url.startsWith(ORIGIN) && !url.startsWith(ORIGIN.replace("http", "ws"))) {
      offOrigin.push(url);
      return route.abort();
    }
    return route.continue();
  });
  page.on("dialog", (dialog) => {
    throw new Error(`a dialog opened: ${dialog.message()}`);
  });
  return page;
}

const checked = [];
async function accessible(page, name) {
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
  const result = await page.evaluate(`${AXE}; axe.run(document, { resultTypes: ["violations"] })`);
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    [],
    `axe-core on ${name}`,
  );
  checked.push(name);
}

async function signUp(page, link) {
  await page.goto(link);
  await accessible(page, `invitation-${checked.length}`);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByLabel("The same password again").fill(PASSWORD);
  await page.getByRole("button", { name: "Set password and sign in" }).click();
  await page.waitForURL(`${ORIGIN}/simulations`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const offOrigin = [];
try {
  const seeded = await seed();

  // The admin signs in and invites the agents from the People page: the link shows once.
  const boss = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const bossPage = await guardedPage(boss, offOrigin);
  await signUp(bossPage, seeded.boss);
  await bossPage.getByRole("link", { name: "Admin" }).click();
  await bossPage.getByRole("heading", { name: "People" }).waitFor();
  const invite = async (name) => {
    await bossPage.getByLabel(`Email for ${name}`).fill(`${name}@acme.example`);
    await bossPage.locator("tr", { hasText: name }).getByRole("button", { name: "Invite" }).click();
    const link = await bossPage.getByLabel("Invitation link").inputValue();
    assert.match(link, new RegExp(`^${ORIGIN}/invitations/inv_[0-9a-f]{64}$`));
    assert.ok(!bossPage.url().includes("inv_"), "the link is never in a URL");
    return link;
  };
  const aliceLink = await invite("alice");
  await accessible(bossPage, "admin-people");
  const eveLink = await invite("eve");
  await bossPage.getByRole("link", { name: "Audit log", exact: true }).click();
  await bossPage.locator("[data-table=audit] code", { hasText: "user.invited" }).first().waitFor();
  await accessible(bossPage, "admin-audit");
  // Teams, keys and webhooks, each from its own admin page.
  await bossPage.getByRole("link", { name: "Teams", exact: true }).click();
  await bossPage.getByLabel("Name").fill("Beach");
  await bossPage.getByRole("button", { name: "Add the team" }).click();
  await bossPage.locator("[data-table=teams]").getByText("Beach").waitFor();
  await accessible(bossPage, "admin-teams");
  await bossPage.getByRole("link", { name: "API keys", exact: true }).click();
  await bossPage.getByLabel("For").selectOption({ label: "alice (agent)" });
  await bossPage.getByRole("button", { name: "Make the key" }).click();
  const minted = await bossPage.getByLabel("The new API key").inputValue();
  assert.match(minted, /^trp_/);
  assert.ok(!bossPage.url().includes("trp_"), "a key is never in a URL");
  assert.equal((await api(minted, "GET", "/personas")).items.length > 0, true);
  await accessible(bossPage, "admin-keys");
  await bossPage.getByRole("link", { name: "Webhooks", exact: true }).click();
  await bossPage.getByText("No webhooks yet").waitFor();
  await accessible(bossPage, "admin-webhooks");

  const alice = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await guardedPage(alice, offOrigin);
  await signUp(page, aliceLink);
  // An agent has no admin pages.
  assert.equal(await page.getByRole("link", { name: "Admin" }).count(), 0);
  assert.equal((await page.goto(`${ORIGIN}/admin/users`)).status(), 403);
  await page.goto(`${ORIGIN}/simulations`);
  await page.getByText("No simulations yet").waitFor();
  await accessible(page, "simulations-empty");

  // A focus group with the private client in it, on a model slow enough to watch.
  const accepted = await api(ALICE_KEY, "POST", "/simulations/focus-group", {
    property_id: seeded.listing,
    persona_ids: [seeded.ids["Quiet Client"]],
    persona_segments: ["finance", "tech"],
    questions: [
      "What is your first impression?",
      "Would you buy it at the asking price?",
      { text: "Which matters most to you here?", type: "single_choice", options: ["Wine cellar", "Heated pool", "Ski room"] },
      { text: "What one change would make it a must-have?", type: "free_text" },
    ],
    simulation_params: { num_agents: 6, iterations: 2 },
  });
  await page.goto(`${ORIGIN}/simulations/${accepted.id}`);
  await page.locator("#live").waitFor();
  await accessible(page, "simulation-live");
  await page.locator("#answers li").first().waitFor({ timeout: 60000 });
  // The page reloads into the results when the run ends.
  await page.locator("[data-table=segments]").waitFor({ timeout: 120000 });
  await accessible(page, "simulation-results");
  // First paint of the results page against the sign-in form's, loaded the same way (figures
  // to read, not a timed assertion). Each in a window of its own (a page in a background tab is
  // never painted) and without the off-origin guard: Playwright's request routing sends every
  // request through this process and turns the HTTP cache off, which would time the harness.
  // "cold" is a new window's first page (Chromium starts a renderer for it); "in session" is the
  // page reached from another page of the workspace, as a broker reaches it.
  const paintOf = (page) => page.evaluate(() => new Promise((resolve) => {
    // The entry is recorded once the frame is presented, which may be after `load`.
    new PerformanceObserver((list) => {
      const entry = list.getEntriesByName("first-contentful-paint")[0];
      if (entry) resolve(entry.startTime);
    }).observe({ type: "paint", buffered: true });
    setTimeout(() => resolve(NaN), 5000);
  }));
  const firstPaint = async (storageState, path, from) => {
    const context = await browser.newContext({ storageState });
    const fresh = await context.newPage();
    await fresh.goto(`${ORIGIN}${path}`, { waitUntil: "load" });
    const cold = await paintOf(fresh);
    await fresh.goto(`${ORIGIN}${from}`, { waitUntil: "load" });
    await fresh.goto(`${ORIGIN}${path}`, { waitUntil: "load" });
    const warm = await paintOf(fresh);
    const served = await fresh.evaluate(() => performance.getEntriesByType("navigation")[0].responseEnd);
    await context.close();
    return { cold, warm, served };
  };
  const resultsPaint = await firstPaint(await alice.storageState(), `/simulations/${accepted.id}`, "/simulations");
  const signInPaint = await firstPaint(undefined, "/sign-in", "/sign-in?next=/");
  const figures = (name, p) => `${name}: cold ${p.cold.toFixed(0)} ms, in session ${p.warm.toFixed(0)} ms (served by ${p.served.toFixed(0)})`;
  console.log(`first-contentful-paint ${figures("results", resultsPaint)}; ${figures("sign-in", signInPaint)}; ` +
    `ratio cold ${(resultsPaint.cold / signInPaint.cold).toFixed(2)}, in session ${(resultsPaint.warm / signInPaint.warm).toFixed(2)}`);

  const results = await api(ALICE_KEY, "GET", `/simulations/${accepted.id}/results`);
  const segments = results.results.detailed_insights.filter((i) => i.kind === "segment");
  assert.ok(segments.length >= 2, "segments in the results");
  for (const s of segments) {
    const label = `${s.segment.replaceAll("_", " ")} (${s.personas})`;
    const mark = page.locator(`svg g.interval[data-label="${label}"]`);
    assert.equal(Number(await mark.getAttribute("data-mean")), s.mean_intent, `${label} mean`);
    assert.equal(Number(await mark.getAttribute("data-low")), s.intent_ci95[0]);
    const row = page.locator("[data-table=segments] tbody tr", { hasText: s.segment });
    assert.equal(await row.locator("td").nth(3).textContent(), s.mean_intent.toFixed(2));
  }
  // A typed question: its chart and table show the API's shares; a free-text one its themes.
  const choice = results.results.detailed_insights.find((i) => i.kind === "question" && i.type === "single_choice");
  const top = choice.segments[0].shares[0];
  await page.getByRole("heading", { name: `Question ${choice.question}: ${choice.text}` }).waitFor();
  const bar = page.locator(`svg g.interval[data-label="${top.option}"]`).first();
  assert.equal(Number(await bar.getAttribute("data-mean")), top.share * 100, "the leading option's share");
  const shareRow = page.locator(`[data-table=question-${choice.question}] tbody tr`, { hasText: top.option }).first();
  assert.equal(await shareRow.locator("td").nth(0).textContent(), "all");
  const themes = results.results.detailed_insights.find((i) => i.kind === "question" && i.type === "free_text");
  assert.equal(
    await page.locator(`[data-table=question-${themes.question}] tbody tr`).count(),
    themes.segments.reduce((n, s) => n + s.themes.length, 0),
    "every theme of every segment in the table",
  );
  const modifications = results.results.detailed_insights.filter((i) => i.kind === "modification");
  assert.equal(await page.locator("[data-table=modifications] tbody tr").count(), modifications.length);
  assert.equal(await page.locator("[data-field=provider]").textContent(), results.metadata.provider);

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Download segments.csv" }).click(),
  ]);
  const csv = readFileSync(await download.path(), "utf8").trim().split(/\r?\n/);
  assert.match(csv[0], /^segment,personas,responses,mean intent/);
  assert.equal(csv.length, segments.length + 1);

  await page.goto(`${ORIGIN}/simulations/${accepted.id}/report`);
  await page.getByText("what buyers told us").waitFor();
  await accessible(page, "seller-report");
  await page.emulateMedia({ media: "print" });
  writeFileSync(`${ARTIFACTS}/seller-report.pdf`, await page.pdf({ format: "A4" }));
  await page.emulateMedia({ media: "screen" });

  await page.goto(`${ORIGIN}/clients`);
  await page.getByRole("link", { name: HOSTILE }).waitFor();
  await accessible(page, "clients");
  await page.getByRole("link", { name: HOSTILE }).click();
  await page.getByRole("heading", { name: HOSTILE }).waitFor();
  await page.getByText("Collects <b>Burgundy</b> & modern art.", { exact: true }).waitFor();
  // How matching reads the client's wants, beside their words.
  await page.getByText("How matching reads these").click();
  await page.locator("[data-table=conditions]").getByText("scores a listing that has ocean views").waitFor();
  await accessible(page, "client");
  // Paste a call transcript: the run is followed until it merges, and the new version shows.
  await page.getByLabel("What it is").selectOption("transcript");
  await page.getByLabel("Paste the text").fill(
    "Agent: What matters most now?\nClient: Since the sale closed, our budget is now up to $40M.\n" +
    "Client: My partner loves a home theater <img src=x onerror=alert(2)>.\n" +
    "Client: A golf course view is a deal-breaker.",
  );
  await page.getByRole("button", { name: "Learn from it" }).click();
  await page.waitForURL(/\/enrichments\//);
  await accessible(page, "enrichment");
  await page.locator("[data-status=completed]").waitFor({ timeout: 60000 });
  const versionLink = page.getByRole("link", { name: /^version \d+$/ });
  const version = (await versionLink.textContent()).split(" ")[1];
  await versionLink.click();
  const entry = page.locator(`#version-${version}`);
  await entry.getByText("enriched").waitFor();
  await entry.locator("blockquote", { hasText: "our budget is now up to $40M" }).waitFor();

  // A CRM export uploaded from the client book: the report, then the pair it made.
  await page.goto(`${ORIGIN}/clients`);
  await page.getByRole("link", { name: "Import from a CRM" }).click();
  await accessible(page, "client-import");
  await page.getByLabel("CSV export").setInputFiles({
    name: "hubspot-contacts.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(
      "Record ID,First Name,Last Name,Email,City,Lifecycle Stage\n" +
      "901,Imogen,Hart,imogen@hart.example,Aspen,customer\n" +
      "902,I.,Hart,,Aspen,lead\n",
    ),
  });
  await page.getByRole("button", { name: "Import clients" }).click();
  await page.getByRole("heading", { name: /^Import: 2 new/ }).waitFor();
  await page.locator("[data-table=imported]").getByText("I. Hart", { exact: true }).waitFor();
  await accessible(page, "client-import-report");
  await page.goto(`${ORIGIN}/clients/duplicates`);
  await page.locator("[data-table=duplicates]").getByRole("link", { name: "I. Hart" }).waitFor();
  await accessible(page, "client-duplicates");
  // Two HubSpot records cannot be folded into one here: the page says why, in words.
  await page.getByRole("button", { name: "Keep Imogen Hart" }).click();
  await page.getByText("both records hold a hubspot id").waitFor();
  await accessible(page, "client-merge-refused");

  await page.goto(`${ORIGIN}/listings`);
  await accessible(page, "listings");
  await page.getByRole("link", { name: "Ridgeline Estate, Aspen" }).click();
  await page.getByText("Heated pool under snow").first().waitFor();
  await accessible(page, "listing");

  // Listings in from an MLS export: the good rows load, the bad one is named by its line.
  await page.goto(`${ORIGIN}/listings`);
  await page.getByRole("link", { name: "Import a CSV or RESO feed" }).click();
  await accessible(page, "listing-import");
  await page.getByLabel("CSV file with RESO column names").setInputFiles({
    name: "mls.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(
      "ListingId,ListPrice,City,StateOrProvince,PublicRemarks,BedroomsTotal\n" +
      "MLS-1,18500000,Aspen,CO,Red Mountain chalet with a ski room.,6\n" +
      "MLS-2,twelve million,Vail,CO,Lodge,5\n",
    ),
  });
  await page.getByRole("button", { name: "Import listings" }).click();
  await page.getByRole("heading", { name: "Import: 1 new, 0 updated, 0 unchanged, 1 not imported" }).waitFor();
  await page.locator("[data-table=import-errors]").getByText("3", { exact: true }).waitFor();
  await accessible(page, "listing-import-report");
  // A listing typed in, then changed.
  await page.goto(`${ORIGIN}/listings/new`);
  await page.getByLabel(/^Title/).fill("Broad Beach House");
  await page.getByLabel("List price").fill("$31,000,000");
  await page.getByLabel("City").fill("Malibu");
  await page.getByLabel("Features, one per line").fill("ocean views\nwine cellar");
  await accessible(page, "listing-new");
  await page.getByRole("button", { name: "Add the listing" }).click();
  await page.getByRole("heading", { name: "Broad Beach House" }).waitFor();
  await page.getByRole("link", { name: "Edit", exact: true }).click();
  await accessible(page, "listing-edit");
  await page.getByLabel("List price").fill("29500000");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByText("29,500,000").first().waitFor();

  // A client typed in, on the page the graph of their interests, then deleted behind a confirmation.
  await page.goto(`${ORIGIN}/clients`);
  await page.getByRole("link", { name: "New client" }).click();
  await page.getByLabel("Name", { exact: true }).fill("Noor Haddad");
  await page.getByLabel(/^Segment/).fill("tech");
  await page.getByLabel("Interests, one per line").fill("sailing\ncontemporary art");
  await page.getByLabel("Up to").fill("40,000,000");
  await page.getByLabel("Who may see this client").selectOption("brokerage");
  await accessible(page, "client-new");
  await page.getByRole("button", { name: "Add the client" }).click();
  await page.getByRole("heading", { name: "Noor Haddad", level: 1 }).waitFor();
  await page.locator("svg[data-chart=graph] [data-node='interest:sailing']").waitFor();
  await accessible(page, "client-graph");
  await page.getByRole("link", { name: "Edit", exact: true }).click();
  await accessible(page, "client-edit");
  // A shared client is deleted by a lead of their team or an admin (the brokerage's default):
  // the admin deletes, finds the client among the deleted, restores, then erases at once.
  const clientUrl = page.url().replace(/\/edit$/, "");
  await page.goto(clientUrl);
  assert.equal(await page.getByRole("link", { name: "Delete…" }).count(), 0);
  await bossPage.goto(clientUrl);
  await bossPage.getByRole("link", { name: "Delete…" }).click();
  await accessible(bossPage, "client-delete-confirm");
  await bossPage.getByLabel("I want to delete Noor Haddad").check();
  await bossPage.getByRole("button", { name: "Delete Noor Haddad" }).click();
  await bossPage.getByRole("heading", { name: "Noor Haddad was deleted" }).waitFor();
  assert.equal((await page.goto(clientUrl)).status(), 404);
  await bossPage.getByRole("link", { name: "Admin" }).click();
  await bossPage.getByRole("link", { name: "Deleted clients", exact: true }).click();
  await bossPage.locator("[data-table=deleted-clients]").getByRole("cell", { name: "Noor Haddad", exact: true }).waitFor();
  await accessible(bossPage, "admin-deleted-clients");
  await bossPage.getByRole("button", { name: "Restore Noor Haddad" }).click();
  await bossPage.getByText("No deleted clients are waiting for erasure.").waitFor();
  assert.equal((await page.goto(clientUrl)).status(), 200);
  await bossPage.goto(`${clientUrl}/delete`);
  await bossPage.getByLabel("I want to delete Noor Haddad").check();
  await bossPage.getByLabel(/Erase them now instead/).check();
  await bossPage.getByRole("button", { name: "Delete Noor Haddad" }).click();
  await bossPage.getByRole("heading", { name: "Noor Haddad was erased" }).waitFor();

  // Keyboard only: past the navigation, open "New client", type a name, submit with Enter.
  await page.goto(`${ORIGIN}/clients`);
  const focused = () => page.evaluate(() => document.activeElement.id || document.activeElement.textContent.trim());
  await page.keyboard.press("Tab");
  assert.equal(await focused(), "Skip to content");
  await page.keyboard.press("Enter");
  const tabTo = async (target) => {
    for (let i = 0; i < 30 && (await focused()) !== target; i++) await page.keyboard.press("Tab");
    assert.equal(await focused(), target, `Tab reaches ${target}`);
  };
  await tabTo("New client");
  await page.keyboard.press("Enter");
  await page.waitForURL(`${ORIGIN}/clients/new`);
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await tabTo("name");
  await page.keyboard.type("Kai Brooks");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Kai Brooks", level: 1 }).waitFor();

  // A marketing test and one client's reaction, each from its form.
  await page.goto(`${ORIGIN}/simulations/new`);
  await accessible(page, "simulation-new");
  await page.getByRole("link", { name: "Marketing test" }).click();
  await page.getByLabel(/finance \(\d+ stored/).check();
  await page.getByLabel(/^Participants drawn/).fill("2");
  await page.locator("#m1_name").fill("Private preview");
  await page.locator("#m1_body").fill("A private preview of an Aspen estate with a wine cellar.");
  await page.getByLabel("whatsapp").check();
  await accessible(page, "marketing-form");
  await page.getByRole("button", { name: "Start the marketing test" }).click();
  await page.waitForURL(/\/simulations\/[0-9a-f-]+$/);
  const marketingRun = page.url().split("/").pop();
  await page.goto(`${ORIGIN}/simulations/new/outreach`);
  await accessible(page, "outreach-form");
  await page.goto(`${ORIGIN}/simulations/new/focus-group`);
  await accessible(page, "new-focus-group-form");
  await page.goto(`${ORIGIN}/simulations/new/individual?client=${seeded.ids["Ada Vale"]}`);
  await page.getByLabel("The listing it is about (optional)").selectOption(seeded.listing);
  await page.getByLabel("What is shown, written or said").fill("A private showing of the cellar.");
  await accessible(page, "individual-form");
  await page.getByRole("button", { name: "Simulate the reaction" }).click();
  await page.waitForURL(/\/simulations\/[0-9a-f-]+$/);
  await page.locator("[data-table=outcome]").waitFor({ timeout: 60000 });
  await accessible(page, "individual-results");
  const reaction = await api(ALICE_KEY, "GET", `/simulations/${page.url().split("/").pop()}/results`);
  assert.equal(reaction.type, "individual");
  assert.equal((await api(ALICE_KEY, "GET", `/simulations/${marketingRun}/status`)).type, "marketing");

  // A focus group from the listing's form: a form with a mistake is shown again with it.
  await page.goto(`${ORIGIN}/listings/${seeded.listing}`);
  await page.getByRole("link", { name: "Run a focus group" }).click();
  await page.getByRole("heading", { name: /^Focus group on/ }).waitFor();
  await accessible(page, "focus-group-form");
  await page.getByRole("button", { name: "Start the focus group" }).click();
  await page.getByText("Choose at least one segment or client.").waitFor();
  await page.getByLabel(/finance \(\d+ stored/).check();
  await page.getByLabel(/tech \(\d+ stored/).check();
  await page.getByLabel(/^Participants/).fill("4");
  await page.getByLabel(/^Iterations/).fill("1");
  await page.getByRole("button", { name: "Start the focus group" }).click();
  await page.waitForURL(/\/simulations\/[0-9a-f-]+$/);
  const formRun = page.url().split("/").pop();
  await page.locator("[data-table=segments]").waitFor({ timeout: 120000 });
  const formResults = await api(ALICE_KEY, "GET", `/simulations/${formRun}/results`);
  assert.equal(formResults.input_params.property_id, seeded.listing);
  assert.equal(new Set(formResults.results.raw_responses.map((r) => r.persona_id)).size, 4);
  assert.deepEqual(
    [...new Set(formResults.results.raw_responses.map((r) => r.segment))].sort(),
    ["finance", "tech"],
  );
  await page.goto(`${ORIGIN}/listings/${seeded.listing}`);

  // Matching from the listing: ranked clients with their score's parts, and feedback.
  await page.getByRole("button", { name: "Find clients" }).click();
  await page.waitForURL(/\/matching\/[0-9a-f-]+$/);
  await page.locator("li.match").first().waitFor({ timeout: 60000 });
  await accessible(page, "matching");
  const runId = page.url().split("/").pop();
  const matched = await api(ALICE_KEY, "GET", `/matching/${runId}/recommendations`);
  assert.ok(matched.recommendations.length > 0, "recommendations");
  assert.equal(await page.locator("li.match").count(), matched.recommendations.length);
  assert.equal(
    await page.locator("[data-table=near-misses] tbody tr").count(),
    matched.near_misses.length,
    "every near miss is listed with what kept it out",
  );
  const best = matched.recommendations[0];
  const card = page.locator(`#rec-${best.id}`);
  assert.equal(Number(await card.getAttribute("data-score")), best.score);
  for (const c of best.components) {
    const part = card.locator(`rect[data-part="${c.name}"]`);
    assert.equal(Number(await part.getAttribute("data-contribution")), c.contribution, c.name);
  }
  await card.getByLabel("In the client's words (optional)").fill("Loves the cellar");
  await card.getByRole("button", { name: "Interested", exact: true }).click();
  await page.locator(`#rec-${best.id}`).getByText("Feedback so far: interested").waitFor();
  const after = await api(ALICE_KEY, "GET", `/matching/${runId}/recommendations`);
  const given = after.recommendations.find((r) => r.id === best.id).feedback;
  assert.deepEqual(given.map((f) => [f.outcome, f.reason]), [["interested", "Loves the cellar"]]);
  await page.goto(`${ORIGIN}/matching`);
  await accessible(page, "matching-runs");
  await page.getByRole("link", { name: /^The nightly feed/ }).click();
  await page.getByRole("heading", { name: "New matches, night by night" }).waitFor();
  await accessible(page, "nightly-feed");
  // An address with no page answers a page, not JSON.
  assert.equal((await page.goto(`${ORIGIN}/clients/not-a-client`)).status(), 404);
  await page.getByRole("heading", { name: "Page not found" }).waitFor();
  await accessible(page, "page-not-found");

  // What really happened: the private client saw the listing, held against what the focus group
  // predicted of them on the Accuracy page.
  await api(ALICE_KEY, "POST", "/outcomes", {
    type: "showing",
    occurred_on: new Date().toISOString().slice(0, 10),
    property_id: seeded.listing,
    persona_id: seeded.ids["Quiet Client"],
    reaction: 4,
  });
  await page.goto(`${ORIGIN}/accuracy`);
  await page.getByRole("heading", { name: /^Focus groups/ }).waitFor();
  await page.getByText(/\d+ predictions? held against 1 outcome\./).first().waitFor();
  await accessible(page, "accuracy");

  await page.goto(`${ORIGIN}/simulations`);
  await page.getByRole("link", { name: /\d{4}-\d{2}-\d{2}/ }).first().waitFor();
  await accessible(page, "simulations");

  // On a tablet the pages fit the screen: nothing scrolls sideways.
  const tablet = await browser.newContext({ viewport: { width: 768, height: 1024 }, storageState: await alice.storageState() });
  const tabletPage = await guardedPage(tablet, offOrigin);
  for (const path of ["/simulations", `/simulations/${accepted.id}`, `/listings/${seeded.listing}`, "/clients/new"]) {
    await tabletPage.goto(`${ORIGIN}${path}`);
    const [scrollWidth, innerWidth] = await tabletPage.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scrollWidth <= innerWidth, `${path} is ${scrollWidth}px wide on a ${innerWidth}px tablet`);
  }
  await tabletPage.screenshot({ path: `${ARTIFACTS}/tablet-client-new.png`, fullPage: true });
  await tablet.close();

  // Another team's agent: the private client and the simulation it is in do not exist for her.
  const eve = await browser.newContext();
  const evePage = await guardedPage(eve, offOrigin);
  await signUp(evePage, eveLink);
  for (const path of [`/clients/${seeded.ids["Quiet Client"]}`, `/simulations/${accepted.id}`]) {
    const response = await evePage.goto(`${ORIGIN}${path}`);
    assert.equal(response.status(), 404, path);
    assert.equal(await evePage.getByText("Quiet Client").count(), 0);
  }
  await accessible(evePage, "not-found");
  // Nor does what happened with the private client: the one showing is theirs, so no focus
  // group's prediction has an outcome she may see (match feedback on shared clients she may).
  await evePage.goto(`${ORIGIN}/accuracy`);
  await evePage.getByRole("heading", { name: "Accuracy", level: 1 }).waitFor();
  assert.equal(await evePage.getByRole("heading", { name: /^Focus groups/ }).count(), 0);
  // A form posted without its token (what another site would send) changes nothing.
  const forged = await evePage.request.post(`${ORIGIN}/sign-out`, { form: { csrf: "forged" } });
  assert.equal(forged.status(), 403);
  assert.equal((await evePage.goto(`${ORIGIN}/clients`)).status(), 200, "still signed in");

  // Sign out, then the pages ask to sign in again.
  await evePage.getByRole("button", { name: "Sign out" }).click();
  await evePage.waitForURL(/\/sign-in/);
  await accessible(evePage, "sign-in");
  await evePage.goto(`${ORIGIN}/clients`);
  await evePage.waitForURL(/\/sign-in\?next=%2Fclients/);

  assert.deepEqual(offOrigin, [], "no request left the origin");
  console.log(`browser: ok — ${checked.length} pages checked with axe-core: ${checked.join(", ")}`);
} finally {
  await browser.close();
}
