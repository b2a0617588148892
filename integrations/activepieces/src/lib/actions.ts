import { createAction, Property } from '@activepieces/pieces-framework';

import { connection, troupeAuth } from './auth';
import { call, TroupeError, waitFor } from './client';

const FINAL = ['completed', 'failed', 'cancelled'];

const KINDS: Record<string, string> = {
  focus_group: 'focus-group',
  marketing: 'marketing',
  intervention: 'intervention',
  individual: 'individual',
};

const wait = Property.Checkbox({
  displayName: 'Wait for the result',
  description: 'Poll until it finishes and return the result (otherwise return at once).',
  required: false,
  defaultValue: false,
});

const timeout = Property.Number({
  displayName: 'Wait at most (seconds)',
  required: false,
  defaultValue: 600,
});

export const runSimulation = createAction({
  auth: troupeAuth,
  name: 'run_simulation',
  displayName: 'Run a simulation',
  description: 'A focus group, marketing test, intervention (outreach) test or single-persona reaction.',
  props: {
    kind: Property.StaticDropdown({
      displayName: 'Kind',
      required: true,
      options: {
        options: [
          { label: 'Focus group', value: 'focus_group' },
          { label: 'Marketing test', value: 'marketing' },
          { label: 'Intervention test', value: 'intervention' },
          { label: 'Individual reaction', value: 'individual' },
        ],
      },
    }),
    request: Property.Json({
      displayName: 'Request',
      description: 'The body of POST /api/v1/simulations/{kind} (see /docs).',
      required: true,
    }),
    idempotency_key: Property.ShortText({
      displayName: 'Idempotency key',
      description: 'The same key runs the simulation once, however often the flow retries.',
      required: false,
    }),
    wait,
    timeout,
  },
  async run({ auth, propsValue }) {
    const troupe = connection(auth);
    const path = KINDS[propsValue.kind as string];
    if (!path) {
      throw new Error(`unknown kind ${propsValue.kind}`);
    }
    const accepted = await call(troupe, 'POST', `/api/v1/simulations/${path}`, propsValue.request);
    if (!propsValue.wait) {
      return accepted;
    }
    await waitFor(
      troupe,
      `/api/v1/simulations/${accepted.id}/status`,
      (status: any) => FINAL.includes(status.status),
      propsValue.timeout ?? 600,
    );
    return call(troupe, 'GET', `/api/v1/simulations/${accepted.id}/results`);
  },
});

export const getResults = createAction({
  auth: troupeAuth,
  name: 'get_results',
  displayName: 'Get simulation results',
  description: 'The status and (once completed) the results of a simulation.',
  props: {
    simulation_id: Property.ShortText({ displayName: 'Simulation id', required: true }),
  },
  async run({ auth, propsValue }) {
    return call(connection(auth), 'GET', `/api/v1/simulations/${propsValue.simulation_id}/results`);
  },
});

export const createProperty = createAction({
  auth: troupeAuth,
  name: 'create_property',
  displayName: 'Create a property',
  description: 'Add one listing.',
  props: {
    property: Property.Json({
      displayName: 'Listing',
      description: 'The body of POST /api/v1/properties.',
      required: true,
    }),
  },
  async run({ auth, propsValue }) {
    return call(connection(auth), 'POST', '/api/v1/properties', propsValue.property);
  },
});

export const importProperties = createAction({
  auth: troupeAuth,
  name: 'import_properties',
  displayName: 'Import properties',
  description: 'Create or update listings by listing id (idempotent); bad rows are reported.',
  props: {
    items: Property.Json({
      displayName: 'Listings',
      description: 'An array of listings, each with a listing_id.',
      required: true,
    }),
  },
  async run({ auth, propsValue }) {
    return call(connection(auth), 'POST', '/api/v1/properties/import', propsValue.items);
  },
});

export const matchProperty = createAction({
  auth: troupeAuth,
  name: 'match_property',
  displayName: 'Match a property to clients',
  description: 'Rank the clients the key may see for one listing, with explanations.',
  props: {
    property_id: Property.ShortText({ displayName: 'Property id', required: true }),
    limit: Property.Number({ displayName: 'Matches', required: false, defaultValue: 10 }),
    wait,
    timeout,
  },
  async run({ auth, propsValue }) {
    const troupe = connection(auth);
    const accepted = await call(troupe, 'POST', '/api/v1/matching/property-to-clients', {
      property_id: propsValue.property_id,
      limit: propsValue.limit ?? 10,
    });
    if (!propsValue.wait) {
      return accepted;
    }
    await waitFor(
      troupe,
      `/api/v1/matching/${accepted.id}`,
      (run: any) => FINAL.includes(run.status),
      propsValue.timeout ?? 600,
    );
    return call(troupe, 'GET', `/api/v1/matching/${accepted.id}/recommendations`);
  },
});

export const enrichPersona = createAction({
  auth: troupeAuth,
  name: 'enrich_persona',
  displayName: 'Enrich a persona',
  description:
    'Teach a client persona from a call transcript, an email, a note or public information. Troupe stores the text encrypted, extracts facts with their quoted evidence and merges them as a new version.',
  props: {
    persona_id: Property.ShortText({ displayName: 'Persona id', required: true }),
    kind: Property.StaticDropdown({
      displayName: 'Source',
      required: true,
      defaultValue: 'transcript',
      options: {
        options: [
          { label: 'Call transcript', value: 'transcript' },
          { label: 'Email', value: 'email' },
          { label: 'Agent note', value: 'note' },
          { label: 'Public information', value: 'public_info' },
          { label: 'Logged interaction', value: 'interaction' },
        ],
      },
    }),
    content: Property.LongText({ displayName: 'Text', required: true }),
    occurred_on: Property.ShortText({
      displayName: 'Date (YYYY-MM-DD)',
      description: 'When it was said or written; the more recent source wins a contradiction. Default: today.',
      required: false,
    }),
    author: Property.ShortText({ displayName: 'Author', required: false }),
    wait,
    timeout,
  },
  async run({ auth, propsValue }) {
    const troupe = connection(auth);
    const persona = propsValue.persona_id;
    const source = {
      kind: propsValue.kind,
      content: propsValue.content,
      occurred_on: propsValue.occurred_on || undefined,
      author: propsValue.author || undefined,
    };
    const run = await call(troupe, 'POST', `/api/v1/personas/${persona}/enrich`, { sources: [source] });
    if (!propsValue.wait) {
      return run;
    }
    const done = await waitFor(
      troupe,
      `/api/v1/personas/${persona}/enrichments/${run.id}`,
      (r: any) => ['completed', 'failed'].includes(r.status),
      propsValue.timeout ?? 600,
    );
    return { enrichment: done, persona: await call(troupe, 'GET', `/api/v1/personas/${persona}`) };
  },
});

const externalId = {
  source: Property.ShortText({
    displayName: 'System',
    description: 'The system the id belongs to: hubspot, salesforce, mls, … (lower case).',
    required: true,
  }),
  external_id: Property.ShortText({ displayName: 'Id in that system', required: true }),
};

function byExternalId(kind: 'personas' | 'properties', source: string, id: string): string {
  return `/api/v1/${kind}/by-external-id/${encodeURIComponent(source)}/${encodeURIComponent(id)}`;
}

export const upsertPersona = createAction({
  auth: troupeAuth,
  name: 'upsert_persona',
  displayName: 'Create or update a client by external id',
  description:
    'Keep a client in step with a CRM record: creates the client, or changes only the fields sent (what agents and enrichment added is kept).',
  props: {
    ...externalId,
    persona: Property.Json({
      displayName: 'Client',
      description: 'Fields as for POST /api/v1/personas: name, contact {email, phone}, demographics, preferences, …',
      required: true,
    }),
  },
  async run({ auth, propsValue }) {
    const path = byExternalId('personas', propsValue.source, propsValue.external_id);
    return call(connection(auth), 'PUT', path, propsValue.persona);
  },
});

export const upsertProperty = createAction({
  auth: troupeAuth,
  name: 'upsert_property',
  displayName: 'Create or replace a listing by external id',
  description: 'Keep a listing in step with its MLS (or CRM) record: creates it, or replaces its details; its other ids are kept.',
  props: {
    ...externalId,
    property: Property.Json({
      displayName: 'Listing',
      description: 'The body of POST /api/v1/properties: title, description, price, location, features, photos, …',
      required: true,
    }),
  },
  async run({ auth, propsValue }) {
    const path = byExternalId('properties', propsValue.source, propsValue.external_id);
    return call(connection(auth), 'PUT', path, propsValue.property);
  },
});

export const findPersona = createAction({
  auth: troupeAuth,
  name: 'find_persona',
  displayName: 'Find a client',
  description:
    'The client holding a CRM id, or with an email address; nothing when no client the key may see matches.',
  props: {
    source: Property.ShortText({
      displayName: 'System',
      description: 'With the id: the system it belongs to (hubspot, salesforce, …).',
      required: false,
    }),
    external_id: Property.ShortText({ displayName: 'Id in that system', required: false }),
    email: Property.ShortText({ displayName: 'Or: email address', required: false }),
  },
  async run({ auth, propsValue }) {
    const troupe = connection(auth);
    if (propsValue.source && propsValue.external_id) {
      try {
        return await call(troupe, 'GET', byExternalId('personas', propsValue.source, propsValue.external_id));
      } catch (error) {
        if (error instanceof TroupeError && error.status === 404) {
          return null;
        }
        throw error;
      }
    }
    if (propsValue.email) {
      const page = await call(troupe, 'GET', `/api/v1/personas?email=${encodeURIComponent(propsValue.email)}`);
      return page.items[0] ?? null;
    }
    throw new Error('give a system and an id, or an email address');
  },
});

export const importPersonas = createAction({
  auth: troupeAuth,
  name: 'import_personas',
  displayName: 'Import clients',
  description:
    'A CRM export (HubSpot or Salesforce CSV, recognised by its header) or a JSON array of clients, matched by external id then email; repeatable. Bad rows are reported by line.',
  props: {
    csv: Property.LongText({ displayName: 'CSV export', required: false }),
    items: Property.Json({
      displayName: 'Clients (JSON array)',
      description: 'Instead of a CSV: clients as for POST /api/v1/personas, with external_ids.',
      required: false,
    }),
    mapping: Property.StaticDropdown({
      displayName: 'Columns',
      required: false,
      options: {
        options: [
          { label: 'HubSpot contacts export', value: 'hubspot' },
          { label: 'Salesforce Contact export', value: 'salesforce' },
          { label: 'Troupe field names', value: 'troupe' },
        ],
      },
    }),
  },
  async run({ auth, propsValue }) {
    const troupe = connection(auth);
    if (propsValue.csv) {
      const query = propsValue.mapping ? `?mapping=${propsValue.mapping}` : '';
      return call(troupe, 'POST', `/api/v1/personas/import${query}`, propsValue.csv, 'text/csv');
    }
    if (!Array.isArray(propsValue.items)) {
      throw new Error('give a CSV export or a JSON array of clients');
    }
    return call(troupe, 'POST', '/api/v1/personas/import', propsValue.items);
  },
});

export const createSchedule = createAction({
  auth: troupeAuth,
  name: 'create_schedule',
  displayName: 'Schedule a simulation',
  description:
    'Run a simulation again at every slot of a cron expression (UTC, seconds first: "0 0 9 * * Mon" is Mondays at 09:00), as the key\'s user.',
  props: {
    name: Property.ShortText({ displayName: 'Name', required: true }),
    kind: Property.StaticDropdown({
      displayName: 'Kind',
      required: true,
      options: {
        options: [
          { label: 'Focus group', value: 'focus_group' },
          { label: 'Marketing test', value: 'marketing' },
          { label: 'Intervention test', value: 'intervention' },
          { label: 'Individual reaction', value: 'individual' },
        ],
      },
    }),
    request: Property.Json({
      displayName: 'Request',
      description: 'The body of POST /api/v1/simulations/{kind}, checked now as it will be at each slot.',
      required: true,
    }),
    cron: Property.ShortText({ displayName: 'When (cron, UTC)', required: true, defaultValue: '0 0 9 * * Mon' }),
  },
  async run({ auth, propsValue }) {
    const { name, kind, request, cron } = propsValue;
    return call(connection(auth), 'POST', '/api/v1/schedules', { name, kind, request, cron });
  },
});
