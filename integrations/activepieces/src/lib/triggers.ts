import { createTrigger, TriggerStrategy } from '@activepieces/pieces-framework';
import { Webhook } from 'standardwebhooks';

import { connection, troupeAuth } from './auth';
import { call } from './client';

const STORE_KEY = 'troupe_webhook';

type Subscription = { id: string; secret: string };

/** A webhook trigger: on enable it subscribes the flow's URL to `eventType` in Troupe, on
 * disable it deletes that subscription, and each delivery is accepted only if its Standard
 * Webhooks signature verifies with the subscription's secret. */
function troupeTrigger(options: {
  name: string;
  displayName: string;
  description: string;
  eventType: string;
  accept?: (event: any) => boolean;
  sampleData: unknown;
}) {
  return createTrigger({
    auth: troupeAuth,
    name: options.name,
    displayName: options.displayName,
    description: options.description,
    props: {},
    type: TriggerStrategy.WEBHOOK,
    sampleData: options.sampleData,
    async onEnable(context) {
      const created = await call(connection(context.auth), 'POST', '/api/v1/webhooks', {
        url: context.webhookUrl,
        event_types: [options.eventType],
        description: `ActivePieces: ${options.displayName}`,
      });
      await context.store.put<Subscription>(STORE_KEY, { id: created.id, secret: created.secret });
    },
    async onDisable(context) {
      const subscription = await context.store.get<Subscription>(STORE_KEY);
      if (subscription) {
        await call(connection(context.auth), 'DELETE', `/api/v1/webhooks/${subscription.id}`);
        await context.store.delete(STORE_KEY);
      }
    },
    async run(context) {
      const subscription = await context.store.get<Subscription>(STORE_KEY);
      if (!subscription) {
        return [];
      }
      const payload = context.payload;
      const raw =
        typeof payload.rawBody === 'string'
          ? payload.rawBody
          : Buffer.isBuffer(payload.rawBody)
            ? payload.rawBody.toString('utf8')
            : JSON.stringify(payload.body);
      // Throws on a bad or missing signature: the delivery is refused, not run.
      const event = new Webhook(subscription.secret).verify(raw, lowerCased(payload.headers)) as any;
      if (event.type !== options.eventType || (options.accept && !options.accept(event))) {
        return [];
      }
      return [event];
    },
  });
}

function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

export const simulationCompleted = troupeTrigger({
  name: 'simulation_completed',
  displayName: 'Simulation completed',
  description: 'A focus group, marketing, intervention or individual simulation finished with results.',
  eventType: 'simulation.completed',
  sampleData: {
    id: '01a2...',
    type: 'simulation.completed',
    subject_id: '01a2...',
    sequence: 4,
    data: { simulation_id: '01a2...', type: 'focus_group', summary: '…', results_url: '/api/v1/simulations/01a2.../results' },
  },
});

export const newNightlyMatches = troupeTrigger({
  name: 'new_nightly_matches',
  displayName: 'New nightly matches',
  description: 'The nightly matching run found new or materially changed property–client matches.',
  eventType: 'matching.completed',
  accept: (event) => event.data?.nightly === true && (event.data?.matches?.length ?? 0) > 0,
  sampleData: {
    id: '01a2...',
    type: 'matching.completed',
    data: { run_id: '01a2...', nightly: true, pairs_scored: 120, matches: [] },
  },
});

export const personaEnriched = troupeTrigger({
  name: 'persona_enriched',
  displayName: 'Persona enriched',
  description: 'Troupe learned from a source and merged the facts into a client persona (the facts, without the source text).',
  eventType: 'persona.enriched',
  sampleData: {
    id: '01a2...',
    type: 'persona.enriched',
    subject_id: '01a2...',
    data: {
      persona_id: '01a2...',
      enrichment_id: '01a2...',
      version: 3,
      extractor: 'llm:gpt-4o-mini',
      counts: { applied: 2, superseded: 1, outweighed: 0, rejected: 0 },
      facts: [{ kind: 'budget', slot: 'preferences.budget', value: { min: null, max: 40000000 }, effect: 'contradicted', status: 'applied' }],
    },
  },
});

export const newProperty = troupeTrigger({
  name: 'new_property',
  displayName: 'New property',
  description: 'A listing was added (by hand, an import or an MLS sync).',
  eventType: 'property.created',
  sampleData: {
    id: '01a2...',
    type: 'property.created',
    subject_id: '01a2...',
    data: { property_id: '01a2...', listing_id: 'MLS-1', title: 'Ridgeline Estate, Aspen', price: 24000000, status: 'active' },
  },
});

export const propertyStatusChanged = troupeTrigger({
  name: 'property_status_changed',
  displayName: 'Property status changed',
  description: 'A listing went under contract, sold, was withdrawn or came back.',
  eventType: 'property.status_changed',
  sampleData: {
    id: '01a2...',
    type: 'property.status_changed',
    subject_id: '01a2...',
    data: { property_id: '01a2...', from: 'active', to: 'under_contract' },
  },
});

export const clientCreated = troupeTrigger({
  name: 'client_created',
  displayName: 'Client created',
  description: 'A client persona was added (ids and labels only, never the client\'s words).',
  eventType: 'persona.created',
  sampleData: {
    id: '01a2...',
    type: 'persona.created',
    subject_id: '01a2...',
    data: { persona_id: '01a2...', agent_id: '01a2...', team_id: null, visibility: 'team', segment: 'finance', version: 1 },
  },
});

export const clientUpdated = troupeTrigger({
  name: 'client_updated',
  displayName: 'Client updated',
  description: 'A client persona changed: the names of the fields that changed, never their values.',
  eventType: 'persona.updated',
  sampleData: {
    id: '01a2...',
    type: 'persona.updated',
    subject_id: '01a2...',
    data: { persona_id: '01a2...', version: 4, fields: ['demographics', 'preferences'] },
  },
});

export const clientDeleted = troupeTrigger({
  name: 'client_deleted',
  displayName: 'Client deleted',
  description: 'A client was erased: their Troupe id and their ids in other systems, so the CRM can follow.',
  eventType: 'persona.deleted',
  sampleData: {
    id: '01a2...',
    type: 'persona.deleted',
    subject_id: '01a2...',
    data: { persona_id: '01a2...', external_ids: { hubspot: '51' } },
  },
});

export const scheduleFired = troupeTrigger({
  name: 'schedule_fired',
  displayName: 'Scheduled simulation started',
  description: 'A schedule submitted its simulation (its results follow as Simulation completed).',
  eventType: 'simulation.scheduled',
  sampleData: {
    id: '01a2...',
    type: 'simulation.scheduled',
    subject_id: '01a2...',
    data: { schedule_id: '01a2...', simulation_id: '01a2...', slot: '2026-12-07T09:00:00Z' },
  },
});
