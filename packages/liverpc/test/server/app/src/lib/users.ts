// The demo accounts, and the sessions the hook looks up (a session id -> a user).

export interface User {
  name: string;
  tenantId: string;
  projectIds: string[];
}

export const users: Record<string, User> = {
  alice: { name: 'alice', tenantId: 'acme', projectIds: ['apollo', 'gemini'] },
  bob: { name: 'bob', tenantId: 'acme', projectIds: ['apollo'] },
  carol: { name: 'carol', tenantId: 'globex', projectIds: ['zeus'] },
};

/** Sessions by id; the tests sign in by setting `session=<id>`. */
export const sessions = new Map<string, User>(Object.entries(users).map(([name, user]) => [`s-${name}`, user]));
