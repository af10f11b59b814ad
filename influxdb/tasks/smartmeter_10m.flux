// smartmeter_10m: 10-minute summaries of the smartmeter data (what keilog's summary file gave),
// written to the bucket "smartmeter_10m". Install it with influxdb/create-task.sh (which also
// creates the bucket and sets src/dst to your bucket names).
//
// Every 10 minutes (1 minute late, so rows Telegraf delivers every 10 s have arrived) it writes,
// for the window that just ended, one point per meter (tag unitid), time = window START:
//   smartmeter_10m power_w     mean of the E7 readings in the window, W (negative = export)
//   smartmeter_10m import_kwh  energy bought: increases of the E0 counter ending in the window
//   smartmeter_10m export_kwh  energy sold: the same with E3 (meters with export only)
// An increase between two readings counts in the window of the later reading; readings more
// than an hour apart are not bridged. A counter wrap (every 10^D7 counts: decades) loses the
// one interval it happens in. No readings in a window -> no point for it (nothing invented).
import "date"

option task = {name: "smartmeter_10m", every: 10m, offset: 1m}

src = "smartmeter"
dst = "smartmeter_10m"

stop = date.truncate(t: now(), unit: task.every)
start = date.sub(d: task.every, from: stop)

power =
    from(bucket: src)
        |> range(start: start, stop: stop)
        |> filter(fn: (r) => r._measurement == "smartmeter" and r._field == "value" and r.epc == "E7")
        |> group(columns: ["unitid"])
        |> aggregateWindow(every: task.every, fn: mean, timeSrc: "_start", createEmpty: false)
        |> set(key: "_field", value: "power_w")

energy = (epc, field) =>
    from(bucket: src)
        |> range(start: date.sub(d: 1h, from: start), stop: stop)
        |> filter(fn: (r) => r._measurement == "smartmeter" and r._field == "value" and r.epc == epc)
        |> group(columns: ["unitid"])
        |> sort(columns: ["_time"])
        |> difference(nonNegative: true, keepFirst: true)
        |> elapsed(unit: 1s)
        |> filter(fn: (r) => r._time >= start and r.elapsed <= 3600 and exists r._value)
        |> drop(columns: ["elapsed"])
        |> aggregateWindow(every: task.every, fn: sum, timeSrc: "_start", createEmpty: false)
        |> set(key: "_field", value: field)

union(tables: [power, energy(epc: "E0", field: "import_kwh"), energy(epc: "E3", field: "export_kwh")])
    |> set(key: "_measurement", value: "smartmeter_10m")
    |> to(bucket: dst)
