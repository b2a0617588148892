// The piece against a running Troupe: the test starts the real binary (embedded shape, its own
// SQLite file, the offline persona model), drives each action through its `run`, and enables
// each trigger against a local HTTP endpoint that stands in for the flow's webhook URL.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { troupe } from '../src/index';
import { troupeAuth } from '../src/lib/auth';

const BIN = process.env.TROUPE_BIN ?? resolve(__dirname, '../../../../target/debug/troupe');

let scratch: string;
let service: ChildProcess;
let baseUrl: string;
let auth: { type: string; props: { base_url: string; api_key: string } };
let env: NodeJS.ProcessEnv;

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${auth.props.api_key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`);
  return response.status === 204 ? null : response.json();
}

function action(name: string) {
  const found = troupe.actions()[name];
  assert.ok(found, `action ${name}`);
  return found;
}

function trigger(name: string) {
  const found = troupe.triggers()[name];
  assert.ok(found, `trigger ${name}`);
  return found;
}

/** A stand-in for the flow's webhook URL: records each delivery's raw body and headers. */
async function endpoint(): Promise<{ url: string; server: Server; received: Array<{ rawBody: string; headers: Record<string, string> }> }> {
  const received: Array<{ rawBody: string; headers: Record<string, string> }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      received.push({ rawBody: raw, headers: req.headers as Record<string, string> });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/flow`, server, received };
}

function memoryStore() {
  const values = new Map<string, unknown>();
  return {
    put: async (key: string, value: unknown) => {
      values.set(key, value);
      return value;
    },
    get: async (key: string) => (values.get(key) ?? null) as any,
    delete: async (key: string) => {
      values.delete(key);
    },
  };
}

async function until<T>(what: string, probe: () => T | undefined, seconds = 60): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'troupe-piece-'));
  const port = await freePort();
  env = {
    PATH: process.env.PATH,
    TROUPE_DATABASE_URL: `sqlite://${join(scratch, 'troupe.db')}`,
    TROUPE_BIND: `127.0.0.1:${port}`,
    TROUPE_WEBHOOK_ALLOW_PRIVATE: 'true',
    TROUPE_WEBHOOK_POLL_MS: '50',
    TROUPE_MATCHING_CRON: '0 0 0 1 1 * 2099',
    TROUPE_LOG: 'warn',
  };
  const key = execFileSync(BIN, ['keys', 'create', '--brokerage', 'Piece Realty', '--role', 'brokerage_admin'], {
    env,
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .toString()
    .trim();
  baseUrl = `http://127.0.0.1:${port}`;
  auth = { type: 'CUSTOM_AUTH', props: { base_url: baseUrl, api_key: key } };
  service = spawn(BIN, [], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${baseUrl}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    assert.ok(Date.now() < deadline, 'troupe did not start');
    await new Promise((ok) => setTimeout(ok, 100));
  }
  for (const [name, features] of [
    ['Ada', ['wine cellar', 'home theater']],
    ['Ben', ['heated pool', 'ski room']],
  ] as const) {
    await api('POST', '/api/v1/personas', {
      name,
      segment: 'finance',
      visibility: 'brokerage',
      demographics: { age_range: '45-50', occupation: 'Founder', net_worth_range: '$100M+' },
      preferences: { features, deal_breakers: [], budget: { max: 30e6 } },
      personality_traits: { openness: 0.6 },
    });
  }
});

after(() => {
  service?.kill('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
});

const listing = (listingId: string) => ({
  listing_id: listingId,
  title: 'Ridgeline Estate, Aspen',
  description: 'Ski-in ski-out estate with a wine cellar and a heated pool.',
  price: 24000000,
  location: { city: 'Aspen', region: 'Colorado', country: 'USA' },
  features: ['wine cellar', 'heated pool', 'ski room'],
  photos: [{ url: 'https://example.com/1.jpg', description: 'Great room' }],
  candidate_modifications: ['Add a wellness spa'],
});

describe('auth', () => {
  test('a working URL and key validate; a wrong key does not', async () => {
    const validate = troupeAuth.validate!;
    assert.deepEqual(await validate({ auth: auth.props, server: {} as any }), { valid: true });
    const wrong = await validate({ auth: { ...auth.props, api_key: 'trp_nope' }, server: {} as any });
    assert.equal(wrong.valid, false);
  });
});

describe('actions', () => {
  test('create a property, import properties, then match one to clients and wait', async () => {
    const created: any = await action('create_property').run({ auth, propsValue: { property: listing('MLS-1') } } as any);
    assert.ok(created.id);
    const imported: any = await action('import_properties').run({
      auth,
      propsValue: { items: [listing('MLS-2'), listing('MLS-3')] },
    } as any);
    assert.equal(imported.created, 2);
    const matches: any = await action('match_property').run({
      auth,
      propsValue: { property_id: created.id, limit: 5, wait: true, timeout: 60 },
    } as any);
    assert.equal(matches.run.status, 'completed');
    assert.deepEqual(
      matches.recommendations.map((r: any) => r.persona_name),
      ['Ben', 'Ada'],
      'Ben wants both of the listing\'s features Ada wants one of',
    );
  });

  for (const [kind, body] of [
    ['focus_group', (p: string) => ({ property_id: p, persona_segments: ['finance'], questions: ['First impression?'], modifications_to_test: [] })],
    ['marketing', (_: string) => ({ persona_segments: ['finance'], channels: ['email'], materials: [{ name: 'A', body: 'A wine cellar.' }, { name: 'B', body: 'Ski-in luxury.' }] })],
    ['intervention', (_: string) => ({ persona_segments: ['finance'], variants: [{ name: 'Warm', touches: [{ day: 0, channel: 'email', message: 'Hello' }] }] })],
  ] as const) {
    test(`run a ${kind} simulation and wait for its results, then read them again`, async () => {
      const property: any = await api('POST', '/api/v1/properties', listing(`MLS-${kind}`));
      const results: any = await action('run_simulation').run({
        auth,
        propsValue: { kind, request: body(property.id), wait: true, timeout: 120 },
      } as any);
      assert.equal(results.status, 'completed', JSON.stringify(results));
      assert.ok(results.results.summary);
      const again: any = await action('get_results').run({ auth, propsValue: { simulation_id: results.id } } as any);
      assert.equal(again.id, results.id);
    });
  }

  test('an individual reaction, returned at once without waiting', async () => {
    const personas: any = await api('GET', '/api/v1/personas');
    const property: any = await api('POST', '/api/v1/properties', listing('MLS-individual'));
    const accepted: any = await action('run_simulation').run({
      auth,
      propsValue: {
        kind: 'individual',
        request: { persona_id: personas.items[0].id, scenario: { type: 'call', context: { purpose: `introduce listing ${property.id}` } } },
        wait: false,
      },
    } as any);
    assert.ok(accepted.id && accepted.status_url, JSON.stringify(accepted));
  });
});

describe('enrichment', () => {
  test('enrich a persona and wait (offline rules); persona enriched fires with the facts, not the text', async () => {
    const flow = await endpoint();
    const store = memoryStore();
    const enriched = trigger('persona_enriched');
    const hook = { auth, propsValue: {}, webhookUrl: flow.url, store } as any;
    await enriched.onEnable(hook);
    const personas: any = await api('GET', '/api/v1/personas');
    const ada = personas.items.find((p: any) => p.name === 'Ada');
    const result: any = await action('enrich_persona').run({
      auth,
      propsValue: {
        persona_id: ada.id,
        kind: 'transcript',
        content: 'Client: Since the exit, our budget is now up to $45M. She no longer wants a home theater.',
        occurred_on: '2026-03-02',
        author: 'J. Alvarez',
        wait: true,
        timeout: 60,
      },
    } as any);
    assert.equal(result.enrichment.status, 'completed', JSON.stringify(result));
    assert.equal(result.enrichment.extractor, 'offline-rules');
    assert.equal(result.persona.preferences.budget.max, 45e6);
    assert.deepEqual(result.persona.preferences.features, ['wine cellar']);

    const delivery = await until('the delivery', () => flow.received.find((r) => JSON.parse(r.rawBody).type === 'persona.enriched'));
    assert.ok(!delivery.rawBody.includes('Since the exit'), 'the source text stays in Troupe');
    const events = await enriched.run({ ...hook, payload: { body: JSON.parse(delivery.rawBody), rawBody: delivery.rawBody, headers: delivery.headers, queryParams: {} } });
    assert.equal(events.length, 1);
    assert.equal((events[0] as any).data.persona_id, ada.id);
    assert.equal((events[0] as any).data.counts.applied, 2);
    await enriched.onDisable(hook);
    flow.server.close();
  });
});

describe('triggers', () => {
  test('simulation completed: enable subscribes, a signed delivery runs the flow, a forged one is refused, disable unsubscribes', async () => {
    const flow = await endpoint();
    const store = memoryStore();
    const completed = trigger('simulation_completed');
    const hook = { auth, propsValue: {}, webhookUrl: flow.url, store } as any;
    await completed.onEnable(hook);
    const subscriptions: any = await api('GET', '/api/v1/webhooks');
    assert.equal(subscriptions.items.length, 1);
    assert.deepEqual(subscriptions.items[0].event_types, ['simulation.completed']);

    const property: any = await api('POST', '/api/v1/properties', listing('MLS-trigger'));
    const accepted: any = await api('POST', '/api/v1/simulations/focus-group', {
      property_id: property.id,
      persona_segments: ['finance'],
      questions: ['First impression?'],
      modifications_to_test: [],
    });
    const delivery = await until('the delivery', () => flow.received.find((r) => JSON.parse(r.rawBody).subject_id === accepted.id));
    const events = await completed.run({ ...hook, payload: { body: JSON.parse(delivery.rawBody), rawBody: delivery.rawBody, headers: delivery.headers, queryParams: {} } });
    assert.equal(events.length, 1);
    assert.equal((events[0] as any).data.simulation_id, accepted.id);

    const forged = { ...delivery.headers, 'webhook-signature': 'v1,' + Buffer.from('forged').toString('base64') };
    await assert.rejects(completed.run({ ...hook, payload: { body: {}, rawBody: delivery.rawBody, headers: forged, queryParams: {} } }));

    await completed.onDisable(hook);
    assert.equal(((await api('GET', '/api/v1/webhooks')) as any).items.length, 0);
    flow.server.close();
  });

  test('new nightly matches: only a nightly run with matches runs the flow', async () => {
    const flow = await endpoint();
    const store = memoryStore();
    const nightly = trigger('new_nightly_matches');
    const hook = { auth, propsValue: {}, webhookUrl: flow.url, store } as any;
    await nightly.onEnable(hook);
    // An on-demand run is delivered (same event type) but is not a nightly one.
    const property: any = await api('POST', '/api/v1/properties', listing('MLS-nightly'));
    await api('POST', '/api/v1/matching/property-to-clients', { property_id: property.id });
    execFileSync(BIN, ['matching', 'run', '--brokerage', 'Piece Realty'], { env, stdio: 'ignore' });
    const both = await until('two deliveries', () => (flow.received.length >= 2 ? flow.received : undefined));
    const outcomes = await Promise.all(
      both.map((d) => nightly.run({ ...hook, payload: { body: JSON.parse(d.rawBody), rawBody: d.rawBody, headers: d.headers, queryParams: {} } })),
    );
    const fired = outcomes.flat() as any[];
    assert.equal(fired.length, 1, JSON.stringify(outcomes));
    assert.equal(fired[0].data.nightly, true);
    assert.ok(fired[0].data.matches.length > 0);
    await nightly.onDisable(hook);
    flow.server.close();
  });
});

describe('crm', () => {
  test('upsert, find and import clients by CRM id; client and property triggers fire', async () => {
    const names = ['client_created', 'client_updated', 'new_property', 'property_status_changed'];
    const hooks: Record<string, { flow: Awaited<ReturnType<typeof endpoint>>; hook: any }> = {};
    for (const name of names) {
      const flow = await endpoint();
      const hook = { auth, propsValue: {}, webhookUrl: flow.url, store: memoryStore() } as any;
      await trigger(name).onEnable(hook);
      hooks[name] = { flow, hook };
    }

    const created: any = await action('upsert_persona').run({
      auth,
      propsValue: { source: 'hubspot', external_id: '77', persona: { name: 'Greta Lind', contact: { email: 'greta@lind.example' } } },
    } as any);
    assert.equal(created.outcome, 'created', JSON.stringify(created));
    const moved: any = await action('upsert_persona').run({
      auth,
      propsValue: { source: 'hubspot', external_id: '77', persona: { demographics: { location: { city: 'Aspen' } } } },
    } as any);
    assert.equal(moved.outcome, 'updated');
    assert.equal(moved.name, 'Greta Lind', 'fields not sent are kept');
    const found: any = await action('find_persona').run({ auth, propsValue: { source: 'hubspot', external_id: '77' } } as any);
    assert.equal(found.id, created.id);
    const missing = await action('find_persona').run({ auth, propsValue: { source: 'hubspot', external_id: '404' } } as any);
    assert.equal(missing, null);
    const byEmail: any = await action('find_persona').run({ auth, propsValue: { email: 'Greta@Lind.example' } } as any);
    assert.equal(byEmail.id, created.id);
    assert.equal(await action('find_persona').run({ auth, propsValue: { email: 'nobody@lind.example' } } as any), null);

    const csv = 'Record ID,First Name,Last Name,Email,City\n77,Greta,Lind,greta@lind.example,Aspen\n78,Hal,Moss,hal@moss.example,Vail\n';
    const imported: any = await action('import_personas').run({ auth, propsValue: { csv } } as any);
    assert.equal(imported.mapping, 'hubspot');
    assert.deepEqual(
      imported.imported.map((row: any) => row.outcome),
      ['unchanged', 'created'],
      JSON.stringify(imported),
    );

    const property: any = await action('upsert_property').run({
      auth,
      propsValue: { source: 'mls', external_id: 'MLS-crm', property: listing('MLS-crm') },
    } as any);
    assert.equal(property.outcome, 'created', JSON.stringify(property));
    const underContract: any = await action('upsert_property').run({
      auth,
      propsValue: { source: 'mls', external_id: 'MLS-crm', property: { ...listing('MLS-crm'), status: 'under_contract' } },
    } as any);
    assert.equal(underContract.outcome, 'updated');
    assert.equal(underContract.id, property.id);

    // Deliveries may arrive in any order: each is found by its type and its subject.
    const fired = async (name: string, type: string, subject: string) => {
      const { flow, hook } = hooks[name];
      const delivery = await until(type, () =>
        flow.received.find((r) => {
          const event = JSON.parse(r.rawBody);
          return event.type === type && event.subject_id === subject;
        }),
      );
      const events = await trigger(name).run({
        ...hook,
        payload: { body: JSON.parse(delivery.rawBody), rawBody: delivery.rawBody, headers: delivery.headers, queryParams: {} },
      });
      assert.equal(events.length, 1, `${name}: ${JSON.stringify(events)}`);
      return (events[0] as any).data;
    };
    assert.equal((await fired('client_created', 'persona.created', created.id)).persona_id, created.id);
    assert.deepEqual((await fired('client_updated', 'persona.updated', created.id)).fields, ['demographics']);
    assert.equal((await fired('new_property', 'property.created', property.id)).property_id, property.id);
    const status = await fired('property_status_changed', 'property.status_changed', property.id);
    assert.deepEqual([status.from, status.to], ['active', 'under_contract']);

    for (const name of names) {
      await trigger(name).onDisable(hooks[name].hook);
      hooks[name].flow.server.close();
    }
    assert.equal(((await api('GET', '/api/v1/webhooks')) as any).items.length, 0);
  });
});

describe('schedules', () => {
  test('schedule a simulation; schedule fired runs the flow for its slot', async () => {
    const flow = await endpoint();
    const hook = { auth, propsValue: {}, webhookUrl: flow.url, store: memoryStore() } as any;
    const fired = trigger('schedule_fired');
    await fired.onEnable(hook);
    const property: any = await api('POST', '/api/v1/properties', listing('MLS-scheduled'));
    // Every second: the scheduler's next tick (within 10 s) fires the latest slot.
    const schedule: any = await action('create_schedule').run({
      auth,
      propsValue: {
        name: 'Every second',
        kind: 'focus_group',
        cron: '* * * * * *',
        request: { property_id: property.id, persona_segments: ['finance'], questions: ['First impression?'] },
      },
    } as any);
    assert.ok(schedule.id && schedule.next_run_at, JSON.stringify(schedule));
    const delivery = await until('the scheduled delivery', () =>
      flow.received.find((r) => JSON.parse(r.rawBody).type === 'simulation.scheduled'),
    );
    await api('PATCH', `/api/v1/schedules/${schedule.id}`, { enabled: false });
    const events = await fired.run({
      ...hook,
      payload: { body: JSON.parse(delivery.rawBody), rawBody: delivery.rawBody, headers: delivery.headers, queryParams: {} },
    });
    assert.equal(events.length, 1);
    assert.equal((events[0] as any).data.schedule_id, schedule.id);
    const refused = action('create_schedule').run({
      auth,
      propsValue: { name: 'Bad', kind: 'focus_group', cron: 'every day', request: { property_id: property.id } },
    } as any);
    await assert.rejects(refused, /not a cron expression/);
    await fired.onDisable(hook);
    flow.server.close();
  });
});
