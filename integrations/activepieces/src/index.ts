import { createPiece } from '@activepieces/pieces-framework';

import {
  createProperty,
  createSchedule,
  enrichPersona,
  findPersona,
  getResults,
  importPersonas,
  importProperties,
  matchProperty,
  runSimulation,
  upsertPersona,
  upsertProperty,
} from './lib/actions';
import { troupeAuth } from './lib/auth';
import {
  clientCreated,
  clientDeleted,
  clientUpdated,
  newNightlyMatches,
  newProperty,
  personaEnriched,
  propertyStatusChanged,
  scheduleFired,
  simulationCompleted,
} from './lib/triggers';

export { troupeAuth };

export const troupe = createPiece({
  displayName: 'Troupe',
  description: 'Persona simulations and client matching for UHNW real estate.',
  logoUrl: 'https://troupe.dev/logo.png',
  authors: ['troupe'],
  auth: troupeAuth,
  minimumSupportedRelease: '0.30.0',
  actions: [
    runSimulation,
    getResults,
    createProperty,
    importProperties,
    matchProperty,
    enrichPersona,
    upsertPersona,
    upsertProperty,
    findPersona,
    importPersonas,
    createSchedule,
  ],
  triggers: [
    simulationCompleted,
    newNightlyMatches,
    personaEnriched,
    newProperty,
    propertyStatusChanged,
    clientCreated,
    clientUpdated,
    clientDeleted,
    scheduleFired,
  ],
});
