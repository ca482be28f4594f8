// The locals this app's hook would return, as room functions and handlers read them.
declare global {
  namespace Liverpc {
    interface Locals {
      user: { name: string; tenantId: string; projectIds: string[] };
    }
  }
}

export {};
