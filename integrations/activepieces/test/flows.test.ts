// The exported flow recipes in ../flows, held to ActivePieces' own flow schema (the zod schemas of
// @activepieces/shared, the version the piece builds against) and to this piece: every Troupe step
// names an action or trigger the piece has and gives its required inputs, every step's piece is
// listed, and every `{{step_N…}}` names a step that ran before it. They were not run against live
// HubSpot or Salesforce accounts here.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { FlowAction, FlowVersionTemplate } from '@activepieces/shared';

import { troupe } from '../src/index';

const FLOWS = resolve(__dirname, '../../flows');
const TROUPE_PIECE = '@troupe/piece-troupe';

type Step = { name: string; type: string; settings: any; nextAction?: Step; firstLoopAction?: Step };

/** The steps after the trigger, in the order they run (a loop's body before what follows it). */
function actionsOf(first: Step | undefined): Step[] {
  const steps: Step[] = [];
  for (let step = first; step; step = step.nextAction) {
    steps.push(step);
    steps.push(...actionsOf(step.firstLoopAction));
  }
  return steps;
}

/** Every `{{name…}}` a step's settings refer to. */
function references(settings: unknown): string[] {
  const text = JSON.stringify(settings);
  return [...text.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]);
}

const files = readdirSync(FLOWS).filter((f) => f.endsWith('.json'));

describe('flow recipes', () => {
  test('there is one for each workflow the CRM integration promises', () => {
    assert.deepEqual(files.sort(), [
      'hubspot-call-to-enrichment.json',
      'hubspot-contact-to-troupe.json',
      'hubspot-note-to-enrichment.json',
      'mls-listing-to-focus-group-and-matching.json',
      'nightly-matches-to-salesforce-tasks.json',
    ]);
  });

  for (const file of files) {
    test(`${file} fits the flow schema and the pieces it names`, () => {
      const flow = JSON.parse(readFileSync(join(FLOWS, file), 'utf8'));
      assert.ok(flow.name && flow.description, 'named and described');
      assert.ok(Array.isArray(flow.requires) && flow.requires.length > 0, 'says what it needs');
      // Parsing strips what the schema does not know: equal means nothing unknown was written.
      const template = FlowVersionTemplate.parse(flow.template);
      assert.deepEqual(template, flow.template);
      const trigger = flow.template.trigger as Step;
      const steps = actionsOf(trigger.nextAction);
      assert.ok(steps.length > 0, 'the trigger leads somewhere');
      for (const step of steps) {
        const { nextAction, firstLoopAction, ...alone } = step;
        assert.deepEqual(FlowAction.parse(alone), alone, `${step.name} fits the action schema`);
        void nextAction;
        void firstLoopAction;
      }
      const seen = ['trigger', 'connections'];
      for (const step of [trigger, ...steps]) {
        for (const name of references(step.settings)) {
          assert.ok(seen.includes(name), `${file}: ${step.name} refers to ${name}, which has not run before it`);
        }
        seen.push(step.name);
        if (step.type !== 'PIECE' && step.type !== 'PIECE_TRIGGER') {
          continue;
        }
        const { pieceName, actionName, triggerName, input } = step.settings;
        assert.ok(flow.pieces.includes(pieceName), `${file}: ${pieceName} is listed in pieces`);
        if (pieceName !== TROUPE_PIECE) {
          continue;
        }
        const defined = actionName ? troupe.actions()[actionName] : troupe.triggers()[triggerName];
        assert.ok(defined, `${file}: the piece has ${actionName ?? triggerName}`);
        assert.match(String(input.auth), /\{\{connections\['troupe'\]\}\}/, `${file}: ${step.name} uses the troupe connection`);
        for (const [prop, definition] of Object.entries(defined.props as Record<string, any>)) {
          if (definition.required) {
            assert.ok(input[prop] !== undefined && input[prop] !== '', `${file}: ${step.name} gives ${prop}`);
          }
        }
        for (const prop of Object.keys(input)) {
          assert.ok(prop === 'auth' || prop in defined.props, `${file}: ${step.name} has no input ${prop}`);
        }
      }
    });
  }
});
