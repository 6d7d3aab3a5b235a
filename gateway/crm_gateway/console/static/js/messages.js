// The console's words in English, Russian and Kazakh, one module per area of the console so
// that screens can grow independently. Keys are "<screen>.<what>"; labels of API values are
// "<group>.<value>" (stage.proposal, role.branch_agent). A test checks that every key the
// screens use is here in all three languages, and that no key is defined twice.
import * as analytics from "./messages/analytics.js";
import * as branches from "./messages/branches.js";
import * as core from "./messages/core.js";
import * as customers from "./messages/customers.js";
import * as daily from "./messages/daily.js";
import * as erasure from "./messages/erasure.js";
import * as exports from "./messages/exports.js";
import * as imports from "./messages/imports.js";
import * as marketing from "./messages/marketing.js";
import * as orders from "./messages/orders.js";
import * as partners from "./messages/partners.js";
import * as privacy from "./messages/privacy.js";
import * as search from "./messages/search.js";
import * as tickets from "./messages/tickets.js";

const PARTS = [core, branches, customers, erasure, orders, tickets, privacy, daily, search, exports, imports, marketing, analytics, partners];

export const MESSAGES = Object.fromEntries(["en", "ru", "kk"].map(
  (language) => [language, Object.assign({}, ...PARTS.map((part) => part[language]))]));
