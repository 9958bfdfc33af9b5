/** Pieces of market-API device models shared by the tests that run them against the fixture. */

export const MARKET_ENV = { MARKET_EMAIL: 'ops@example.com', MARKET_PASSWORD: 'correct-horse-battery' };

/** The bearer header and the boot login that captures both tokens. */
export const MARKET_LOGIN = `http:
  headers:
    authorization: "Bearer {{ vars.access }}"
boot:
  - name: /auth/token/
    http:
      method: POST
      path: /api/v1/auth/token/
      json: { email: "{{ env.MARKET_EMAIL }}", password: "{{ env.MARKET_PASSWORD }}" }
    capture: { access: $.access, refresh: $.refresh }
`;

/** A refresh task of the given weight (0: only the token lifecycle runs it) capturing `captures`. */
export function refreshTask(weight: number, captures: string): string {
  return `  - name: /auth/token/refresh/
    weight: ${weight}
    http:
      method: POST
      path: /api/v1/auth/token/refresh/
      json: { refresh: "{{ vars.refresh }}" }
    capture: { ${captures} }
`;
}
