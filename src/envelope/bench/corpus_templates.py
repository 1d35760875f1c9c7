"""The corpus generator's phrasebook (data, read by `envelope.bench.corpus`).

`WORDS`: one word list a line, `name: item, item, …`; `{name}` in a template picks one.
`DOMAINS`: one block a domain, opened by `# subject template | short reference`, then
facts as two lines each: the statement, and `? ` the question it answers in other words.
A statement names the passage's subject as `{subject}` (`{Subject}` capitalised); the
question repeats the subject's own slots (`{company}`, `{drug}`…) so it reads alone.
"""

# ruff: noqa: E501 — one template a line reads better than strings wrapped mid-sentence

WORDS = """
month: January, February, March, April, May, June, July, August, September, October, November, December
first: Ana, Ben, Chloe, Dev, Elena, Farid, Grace, Hiro, Ines, Jonas, Kemi, Liam, Maya, Nikhil, Olga, Pablo, Quinn, Rosa, Sven, Tara, Umar, Vera, Wei, Yusuf, Zoe, Marta, Theo, Aisha, Bruno, Lena
last: Okafor, Lindqvist, Moreau, Tanaka, Alvarez, Kowalski, Haddad, Brennan, Novak, Castillo, Fischer, Osei, Petrov, Sato, Whitfield, Marlow, Achterberg, Delgado, Hughes, Rossi, Kaur, Nakamura, Silva, Fontaine, Gallagher, Ibsen, Jovanovic, Keller, Laurent, Mendes
firm: Logistics, Holdings, Foods, Robotics, Analytics, Pharma, Textiles, Energy, Insurance, Labs, Outfitters, Media, Freight, Systems, Health, Brewing, Materials, Travel, Software, Retail
city: Lisbon, Osaka, Nairobi, Toronto, Krakow, Valparaiso, Hanoi, Edinburgh, Marrakesh, Tallinn, Perth, Bergen, Seville, Cork, Ljubljana, Montreal, Porto, Kyoto, Cape Town, Reykjavik, Bologna, Tbilisi, Cusco, Hobart, Gdansk, Antwerp, Chiang Mai, Oaxaca, Salzburg, Halifax
codename: Orion, Juniper, Kestrel, Atlas, Beacon, Cinder, Drift, Ember, Falcon, Granite, Harbor, Iris, Jasper, Lumen, Meridian, Nimbus, Onyx, Pioneer, Quartz, Raven, Sable, Tundra, Vesper, Willow, Zephyr
component: billing service, search API, sync agent, audit log, notification gateway, export worker, identity service, report builder, ingestion pipeline, feature-flag service, mobile backend, scheduler
store: PostgreSQL, Redis, an S3 bucket, Kafka, Elasticsearch, a SQLite file, DynamoDB, ClickHouse
format: JSON, CSV, Parquet, XML, NDJSON, Avro
team: platform, payments, data, security, mobile, growth, infrastructure, support tooling, compliance
metric: revenue, operating margin, free cash flow, gross margin, net income, recurring revenue
segment: wholesale, online, enterprise, consumer, international, services
quarter: first quarter, second quarter, third quarter, fourth quarter
stem: Vel, Cor, Mir, Dos, Amp, Quen, Sil, Orf, Lun, Pem, Tar, Zel, Bex, Cal, Nor, Fen, Rix
ending: trazine, vanol, elaxin, trelin, pravir, olide, travex, enac, adrex, ivast, oxil, umab
condition: high blood pressure, migraine, asthma, type 2 diabetes, seasonal allergies, acid reflux, insomnia, osteoarthritis, eczema, chronic sinusitis
symptom: nausea, dizziness, a dry mouth, headaches, drowsiness, mild rash, loss of appetite, blurred vision
place: Grand Harbour Hotel, Old Town hostel, Riverside Inn, Hillcrest Lodge, Central Station Hotel, Lighthouse guesthouse, Garden Court apartments, Cathedral Square hotel
transport: airport shuttle, tram, ferry, night bus, regional train, cable car
season: spring, summer, autumn, winter, the rainy season, the high season
amenity: rooftop pool, gym, spa, shared kitchen, bike rental, laundry room, coworking lounge
style: Sicilian, smoky, Thai, rustic, Georgian, Basque, Oaxacan, Nordic, Keralan, Provencal
dish: lemon risotto, black bean chili, green curry, lamb stew, mushroom pie, fish soup, flatbread, bean cassoulet, plum cake, stuffed peppers
ingredient: smoked paprika, fresh ginger, preserved lemon, fennel seeds, brown butter, anchovies, tamarind paste, toasted walnuts, sour cherries, miso
vessel: cast-iron pan, Dutch oven, wok, sheet pan, clay pot, saucepan
contract: master services agreement, data processing addendum, software licence, supply contract, lease agreement, reseller agreement, consulting agreement
clause: limitation of liability, indemnification, termination for convenience, confidentiality, non-solicitation, force majeure, audit rights
law: the laws of England and Wales, New York law, Irish law, the laws of Ontario, Swiss law, Singapore law
policy: parental leave policy, remote work policy, travel expense policy, sick leave policy, equipment policy, learning budget policy, on-call policy
approver: their line manager, an HR business partner, the department head, the finance controller
brand: Brightline, Northwave, Coldspring, Helio, Arcadia, Kettleworks, Sundial, Vantage
device: air purifier, dishwasher, espresso machine, robot vacuum, smart thermostat, electric kettle, e-bike, label printer
part: filter, battery, door gasket, brush roll, water tank, drive belt, grinder burr
light: red, amber, blue, green, white
course: Introduction to Statistics, Organic Chemistry, Modern European History, Data Structures, Microeconomics, Creative Writing, Marine Biology, Linear Algebra
college: Westbrook College, Lakeside University, Northgate Institute, St Aldric College, Harrow Polytechnic
assessment: final exam, term paper, lab report, group project, oral presentation
car: Tessera, Alto, Corvid, Pampa, Strada, Kiruna, Mistral
trim: hybrid, estate, GT, diesel, long-range electric, base
carpart: brake pads, timing belt, cabin air filter, spark plugs, coolant, wiper blades
"""

DOMAINS = """
# the {codename} {component} | the service
{Subject} retries failed webhook deliveries up to {n} times, waiting {seconds} seconds [before the first retry|between attempts].
? How many [times|attempts] does the {codename} {component} retry a webhook that [failed|could not be delivered]?
{Subject} keeps its state in {store} and [is backed up|takes a snapshot] every {hours} hours.
? Where does the {codename} {component} store its data, and how often is it backed up?
Since version {version}, {subject} [rejects|refuses] requests larger than {big} kilobytes with HTTP 413.
? What is the [maximum|largest allowed] request size for the {codename} {component}?
{Subject} is owned by the {team} team; {person} is the [on-call contact|escalation point] for incidents.
? Which team [owns|is responsible for] the {codename} {component} and who do I page?
Clients of {subject} are limited to {big} requests per minute, and [bursts above that|excess calls] get HTTP 429.
? What rate limit applies to [callers|clients] of the {codename} {component}?
{Subject} exports [reports|records] as {format}, [compressed with gzip|split into files] of at most {big} rows.
? In which file format can I export data from the {codename} {component}?
Deployments of {subject} to production [happen|are allowed] only on weekdays before {clock}, after a {minutes}-minute canary.
? When am I allowed to deploy the {codename} {component} to production?
Access tokens issued by {subject} expire after {minutes} minutes and refresh tokens after {days} days.
? How long [are|do] tokens from the {codename} {component} [valid|last]?
{Subject} [was migrated|moved] to {store} in {year}, [cutting|reducing] p99 latency by {pct} percent.
? What [improved|changed] when the {codename} {component} [moved to|adopted] {store}?
Logs from {subject} are kept for {days} days [in the central archive|before deletion], then purged.
? [How long is|What is the retention period for] logging of the {codename} {component}?
{Subject} [supports|offers] single sign-on through SAML, and [admins|owners] can enforce it per workspace.
? Can [we|I] use SSO with the {codename} {component}?
When {subject} is degraded, [the status page|an incident banner] is updated within {minutes} minutes.
? How quickly is an outage of the {codename} {component} [announced|reported]?

# {company} | the company
{Subject} reported {metric} of {millions} for the {quarter} of {year}, up {pct} percent [year on year|from a year earlier].
? What [was|were] {company}'s {metric} in the {quarter} of {year}?
The {segment} segment [contributed|accounted for] {pct} percent of {subject}'s sales [last year|in {year}].
? How much of {company}'s [sales|revenue] comes from its {segment} business?
{Subject} [agreed to acquire|is buying] {other} for {millions} [in cash|in cash and shares].
? [Which company|Who] is {company} acquiring and [for how much|at what price]?
{Subject} pays a quarterly dividend of {cents} cents per share, [payable|paid] in {month}.
? What dividend does {company} pay [shareholders|per share]?
Net debt at {subject} fell to {millions} after it repaid a {years}-year bond [early|ahead of schedule].
? How much debt does {company} [carry|have] now?
{Person} [became|was named] chief financial officer of {subject} in {month} {year}.
? Who is the CFO of {company} and [when did they start|since when]?
{Subject} expects capital spending of about {millions} this year, [mostly|largely] on warehouses in {city}.
? [How much|What] does {company} plan to invest in capital projects?
Invoices from {subject} are [due|payable] within {days} days; late payments carry {pct} percent annual interest.
? What are {company}'s payment terms [for invoices|on bills]?
{Subject} [cut|reduced] its headcount by {big} people after {metric} [missed|fell short of] guidance.
? Why did {company} [lay off staff|reduce its workforce]?
Shares of {subject} [rose|jumped] {pct} percent on the day it [raised|lifted] its full-year outlook.
? How did {company}'s stock react to the [new|updated] guidance?
{Subject}'s auditors flagged [revenue recognition|inventory valuation] as a key audit matter for {year}.
? What [issue|risk] did the auditors of {company} highlight?
{Subject} opened a regional office in {city} with {n} hundred staff [serving|to serve] nearby markets.
? Where did {company} open [its new|a new regional] office?

# {drug} | the medicine
{Subject} is [prescribed|used] for {condition}, usually at {mg} mg [once|twice] a day.
? What is the [usual|normal] dose of {drug} [for|when treating] {condition}?
The most common side effects of {subject} are {symptom} and {symptom2}, which [tend to fade|usually ease] within {weeks} weeks.
? What side effects [can|might] {drug} cause?
{Subject} should not be taken with grapefruit juice, which [raises|increases] its blood levels by up to {pct} percent.
? Is it safe to drink grapefruit juice [with|while taking] {drug}?
Patients [switching to|starting] {subject} need a blood test after {weeks} weeks to check kidney function.
? Do I need [any tests|blood work] after starting {drug}?
{Subject} [reaches|hits] peak effect about {hours} hours after a dose and [lasts|works] for roughly a day.
? How long does {drug} take to [work|kick in]?
A missed dose of {subject} can be taken within {hours} hours; [otherwise|after that] skip it and carry on.
? What should I do if I forget a dose of {drug}?
{Subject} is not recommended during pregnancy, [because|as] animal studies showed effects at high doses.
? Can {drug} be taken [during pregnancy|while pregnant]?
Store {subject} below [25|30] degrees Celsius, away from [moisture|light], in its original blister pack.
? How should {drug} be stored?
In a trial of {big} patients, {subject} [lowered|reduced] symptoms of {condition} by {pct} percent versus placebo.
? How well does {drug} work [against|for] {condition}?
Children under {n} should [only take|receive] {subject} under a specialist's supervision.
? Is {drug} [safe|suitable] for children?
Alcohol [can worsen|increases] the {symptom} caused by {subject}, so [limit|avoid] it during treatment.
? Can I drink alcohol while on {drug}?
{Subject} [went generic|lost patent protection] in {year}, and a month's supply now costs about {money}.
? How much does {drug} cost [now|these days]?

# the {place} in {city} | the hotel
Check-in at {subject} starts at {clock} and check-out is [until|by] 11:00; late check-out costs {money}.
? What [time|hour] is check-in at the {place} in {city}?
{Subject} is a {minutes}-minute ride from the airport on the {transport}, which runs every {n} minutes.
? How do I get from the airport to the {place} in {city}?
Rooms at {subject} cost from {money} a night in {season}, breakfast [included|not included].
? How much is a night at the {place} in {city}?
Guests of {subject} can use the {amenity} free of charge [between|from] 7:00 and {clock}.
? Does the {place} in {city} have a {amenity} [guests can use|for guests]?
Bookings at {subject} can be cancelled free of charge up to {days} days before arrival.
? [What is the cancellation policy|Can I cancel my booking] at the {place} in {city}?
{Subject} [welcomes|accepts] dogs under {n} kilograms for a cleaning fee of {money} per stay.
? Are pets allowed at the {place} in {city}?
Parking near {subject} costs {money} a day in a garage {n} hundred metres away; [spaces|places] cannot be reserved.
? Is there parking at the {place} in {city}?
[Reviewers|Travellers] praise the views from {subject} but note that street noise [carries|is loud] until {clock}.
? Is the {place} in {city} [a quiet place|quiet at night]?
{Subject} was [renovated|refurbished] in {year} and now has {big} square metres of [public space|lounges].
? When was the {place} in {city} last [renovated|updated]?
The best time to visit {city} is {season}, when {subject} [runs|offers] guided walks every morning.
? When should I [visit|travel to] {city}?
Groups of more than {n} rooms at {subject} [need|require] a deposit of {pct} percent at booking.
? Do I need to pay a deposit for a group booking at the {place} in {city}?
Wi-Fi at {subject} is free, with speeds around {n}0 megabits per second [in every room|throughout].
? [Is the wifi good|How fast is the internet] at the {place} in {city}?

# {style} {dish} | the dish
{Subject} [bakes|cooks] at {oven} degrees Celsius for {minutes} minutes in a {vessel}, [covered|lid on] for the first half.
? What [oven temperature|heat] and time does {style} {dish} need?
The secret of {subject} is {ingredient}, [stirred in|added] just before serving.
? What [makes|gives] {style} {dish} its [flavour|special taste]?
{Subject} serves {n} people and keeps in the fridge for {n2} days in a sealed container.
? How [long|many days] can I keep leftover {style} {dish}?
To make {subject} vegetarian, [replace|swap] the stock with [mushroom broth|vegetable stock] and add {ingredient}.
? Can {style} {dish} be made [vegetarian|without meat]?
{Subject} freezes well for up to {months} months; thaw it overnight [before reheating|in the fridge].
? Does {style} {dish} freeze well?
Each portion of {subject} has about {big} calories, [mostly|largely] from the butter and {ingredient}.
? How many calories are in a [portion|serving] of {style} {dish}?
[Prepare|Start] {subject} the day before: resting overnight lets the {ingredient} [soften|mellow].
? Can I make {style} {dish} [ahead of time|in advance]?
{Subject} goes well with a [crisp|chilled] white wine or a [green salad|plate of pickles].
? What should I serve with {style} {dish}?
{Person}, who [wrote|published] the recipe in {year}, learned {subject} from a cook in {city}.
? Where does the recipe for {style} {dish} come from?
If {subject} turns out [too salty|bland], add a squeeze of lemon or a spoon of {ingredient}.
? How do I fix {style} {dish} that [tastes wrong|is too salty]?
Use a heavy {vessel} for {subject} so the base [does not burn|browns evenly] over medium heat.
? Which [pan|pot] is best for cooking {style} {dish}?
{Subject} takes {minutes} minutes of [active work|hands-on time] and is a good weeknight meal.
? How long does {style} {dish} take to [cook|prepare]?

# the {contract} with {company} | the agreement
Either party may terminate {subject} on {days} days' written notice [for convenience|without cause].
? How much notice is needed to [end|terminate] our {contract} with {company}?
Under {subject}, liability is capped at {n}0 percent of the fees paid in the previous {months} months.
? What is the liability cap in the {contract} with {company}?
{Subject} is governed by {law}, and disputes go to arbitration in {city}.
? Which [law|jurisdiction] governs the {contract} with {company}?
{Subject} [renews|rolls over] automatically for {years}-year terms unless cancelled {days} days before expiry.
? Does the {contract} with {company} renew automatically?
The {clause} clause in {subject} [survives|remains in force for] {years} years after termination.
? How long does the {clause} [obligation|clause] last after the {contract} with {company} ends?
{Subject} lets the customer audit [security controls|compliance] once a year with {weeks} weeks' notice.
? [Are we allowed to|Can we] audit {company} under the {contract}?
Fees under {subject} rise each year by inflation, capped at {pct} percent.
? [Can|How much can] {company} raise prices under the {contract}?
{Subject} was signed by {person} on behalf of the customer in {month} {year}.
? Who signed the {contract} with {company} and when?
Personal data processed under {subject} must stay in [the EU|the UK|Canada] and breaches be reported within {hours} hours.
? [What are the data breach reporting rules|How fast must breaches be reported] in the {contract} with {company}?
Subcontracting under {subject} [requires|needs] prior written consent, [not to be|which cannot be] unreasonably withheld.
? Can {company} [use subcontractors|subcontract the work] under the {contract}?
Service credits in {subject} are {pct} percent of the monthly fee for each hour below [the uptime target|99.9 percent uptime].
? What compensation do we get if {company} misses the uptime target?
{Subject} was amended in {year} to add a {clause} clause [requested by|at the request of] legal.
? Has the {contract} with {company} been amended?

# {company}'s {policy} | the policy
Under {subject}, employees get {weeks} weeks of [fully paid|paid] leave after {months} months of service.
? How many weeks of leave [do I get|does an employee get] under the {policy} at {company}?
Requests under {subject} must be [approved|signed off] by {approver} at least {days} days in advance.
? Who approves requests under {company}'s {policy}?
{Subject} allows staff to work from abroad for up to {days} days a year, [subject to|after] a tax check.
? Can I work from another country [under|according to] the {policy} at {company}?
{Subject} reimburses up to {money} per [trip|claim] once receipts are uploaded within {days} days.
? [What is the reimbursement limit|How much is reimbursed] under {company}'s {policy}?
{Subject} was [last updated|revised] in {month} {year} by {person} from People Operations.
? When was {company}'s {policy} last [changed|updated]?
Breaches of {subject} are handled through the disciplinary process, [starting with|beginning with] a written warning.
? What happens if someone [breaks|violates] the {policy} at {company}?
Part-time staff are covered by {subject} [pro rata|in proportion to their hours] from their first day.
? Does the {policy} at {company} apply to part-time employees?
{Subject} [gives|provides] a yearly allowance of {money} for courses, books and conferences.
? [How big is|What is] the yearly allowance in {company}'s {policy}?
Managers must [reply to|answer] requests made under {subject} within {days} working days.
? How long does my manager have to respond [under|to a request under] {company}'s {policy}?
{Subject} does not apply to contractors, who follow the terms [of their own agreements|in their contracts].
? Are contractors covered by the {policy} at {company}?
Employees on call under {subject} receive {money} per weekend and time off in lieu [for|after] night calls.
? How is on-call work compensated under {company}'s {policy}?
Questions about {subject} go to the HR helpdesk, which [answers|responds] within {hours} hours.
? Who can I ask about {company}'s {policy}?

# the {brand} {device} {code} | the device
Replace the {part} of {subject} every {months} months, or sooner if the {light} light [flashes|blinks].
? How often should I [change|replace] the {part} on the {brand} {device} {code}?
Error E{n} on {subject} means the {part} is [blocked|not seated]; [clean|reseat] it and restart.
? What does error E{n} mean on the {brand} {device} {code}?
To reset {subject}, hold the power button for {seconds} seconds until the light turns {light}.
? How do I [factory reset|reset] the {brand} {device} {code}?
{Subject} [draws|uses] up to {big} watts, so do not run it from an extension reel.
? How much power does the {brand} {device} {code} [use|consume]?
The warranty on {subject} lasts {years} years and covers the motor but not the {part}.
? [What does the warranty cover|How long is the warranty] for the {brand} {device} {code}?
In eco mode {subject} runs {pct} percent quieter, [at the cost of|but takes] longer cycles.
? Is there a quiet mode on the {brand} {device} {code}?
Firmware {version} for {subject} [fixes|solves] Wi-Fi dropouts and adds scheduling in the app.
? What does the [latest|new] firmware for the {brand} {device} {code} fix?
Clean {subject} with a damp cloth only; [descale|rinse] it monthly with citric acid.
? How should I clean the {brand} {device} {code}?
{Subject} weighs {n} kilograms and needs {n2}0 centimetres of clearance [on each side|around it].
? How much space does the {brand} {device} {code} need?
A full charge of {subject} takes {hours} hours and gives about {minutes} minutes of [use|runtime].
? How long does the battery of the {brand} {device} {code} last?
If {subject} [will not|does not] turn on, check the fuse and that the {part} is fully inserted.
? My {brand} {device} {code} won't [switch|power] on, what [do I check|should I try]?
A spare {part} for {subject} costs {money} from the {brand} online store.
? Where can I buy a [replacement|spare] {part} for the {brand} {device} {code}?

# {course} at {college} | the course
{Subject} is worth {n} credits and [meets|runs] twice a week for {weeks} weeks.
? How many credits is {course} at {college} worth?
The {assessment} counts for {pct} percent of the final grade in {subject}.
? How much does the {assessment} [count|weigh] in {course} at {college}?
{Subject} is taught by {person}, who holds office hours on Thursdays at {clock}.
? Who teaches {course} at {college} and when are [office hours|they available]?
Late submissions in {subject} lose {pct} percent per day, up to {n} days.
? What is the late [work|submission] penalty in {course} at {college}?
{Subject} [requires|has a prerequisite of] a pass in an introductory course taken in the last {years} years.
? Are there prerequisites for {course} at {college}?
Enrolment in {subject} is capped at {n}0 students and closes {weeks} weeks before term.
? [How many students can take|Is there a limit on places in] {course} at {college}?
{Subject} [uses|relies on] a free online textbook, so materials cost nothing beyond a {money} lab fee.
? How much do the [materials|books] for {course} at {college} cost?
Students may resit the {assessment} in {subject} once, [in|during] {month}.
? Can I retake the {assessment} in {course} at {college}?
Recordings of {subject} lectures are posted within {hours} hours [on the course site|online].
? Are lectures for {course} at {college} recorded?
{Subject} had a pass rate of {share} percent last year, [above|below] the faculty average.
? [Is|How hard is] {course} at {college} [hard to pass|to pass]?
Tutoring for {subject} runs in the library on weekdays from {clock}, [no booking needed|by appointment].
? Where can I get [help|tutoring] with {course} at {college}?
{Subject} [was redesigned|got a new syllabus] in {year} to add a {assessment}.
? Has {course} at {college} changed recently?

# the {brand} {car} {trim} | the car
Replace the {carpart} on {subject} every {km} kilometres or {years} years, whichever comes first.
? When should the {carpart} be replaced on a {brand} {car} {trim}?
Tyre pressure for {subject} is {psi} psi front and rear, [more|a little higher] with a full load.
? What tyre pressure does the {brand} {car} {trim} need?
{Subject} [averages|uses about] {n}.{n2} litres per 100 kilometres on the motorway.
? What is the fuel [economy|consumption] of the {brand} {car} {trim}?
If the {light} warning light on {subject} stays on, stop within {n} kilometres and [call|contact] roadside assistance.
? What should I do when the {light} warning light [comes on|lights up] in my {brand} {car} {trim}?
{Subject} can tow up to {big} kilograms [with|when fitted with] the factory tow bar.
? How much can the {brand} {car} {trim} tow?
A recall in {year} covers {subject} built before {month}, [because of|over] faulty {carpart}.
? Is there a recall [on|for] the {brand} {car} {trim}?
The boot of {subject} holds {big} litres with the rear seats [folded|down].
? How much luggage [fits in|space is in] the {brand} {car} {trim}?
First service of {subject} is due after {months} months and costs about {money} at a dealer.
? When is the first service [due|needed] for the {brand} {car} {trim}?
{Subject} [charges|recharges] from 10 to 80 percent in {minutes} minutes on a fast charger.
? How [long does it take|quickly can I] charge the {brand} {car} {trim}?
The {brand} warranty on {subject} covers {years} years or {km} kilometres, excluding {carpart}.
? What warranty comes with the {brand} {car} {trim}?
Software update {version} for {subject} [improves|fixes] lane keeping and is installed over the air.
? What [does|is in] the latest software update for the {brand} {car} {trim}?
{Subject} scored {n} out of 5 in [crash tests|safety ratings] in {year}.
? How safe is the {brand} {car} {trim}?

"""
