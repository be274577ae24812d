import { benchDatabase } from "./_tmp_db";
import { formatTable } from "./harness";
console.log(formatTable(await benchDatabase({ quick: true })));
process.exit(0);
