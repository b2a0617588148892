import { PieceAuth, Property } from '@activepieces/pieces-framework';

import { call, TroupeConnection } from './client';

export const troupeAuth = PieceAuth.CustomAuth({
  displayName: 'Troupe',
  description:
    'The base URL of your Troupe service and an API key (`troupe keys create`). Triggers create webhooks, which needs a brokerage_admin key.',
  required: true,
  props: {
    base_url: Property.ShortText({
      displayName: 'Base URL',
      description: 'For example https://troupe.example.com',
      required: true,
    }),
    api_key: PieceAuth.SecretText({
      displayName: 'API key',
      description: 'trp_…',
      required: true,
    }),
  },
  // A cheap authenticated read proves both the URL and the key.
  validate: async ({ auth }) => {
    try {
      await call(connection(auth), 'GET', '/api/v1/segments');
      return { valid: true };
    } catch (error) {
      return { valid: false, error: (error as Error).message };
    }
  },
});

export type TroupeAuthValue = { base_url: string; api_key: string };

/** The connection from an auth value, as ActivePieces hands it to actions ({props}) or to
 * `validate` (the bare props). */
export function connection(auth: unknown): TroupeConnection {
  const value = (
    auth && typeof auth === 'object' && 'props' in auth ? (auth as { props: unknown }).props : auth
  ) as TroupeAuthValue;
  return { baseUrl: value.base_url, apiKey: value.api_key };
}
