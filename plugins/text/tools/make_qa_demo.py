"""Writes `zoo_text/data/qa_demo.json`, the text-qa demo (SQuAD 2.0 format): 90 passages written for the
project, 3 facts each asked 3 ways, and 2 questions per passage that the passage does not answer.

Every answer's `answer_start` is found in its passage and checked; run `python tools/make_qa_demo.py`
from `plugins/text` after editing a passage.
"""
# Passages 1-45: (title, context, [(answer, [q, q, q]) x3], [impossible q x2])
P = []
def add(title, context, facts, impossible):
    P.append((title, context, facts, impossible))

add("Millbrook",
"Millbrook is a small market town on the eastern bank of the River Astley. It was founded in 1643 by a wool merchant named Edmund Harrow. The town's clock tower, painted a pale green, stands 38 metres tall and can be seen from the surrounding hills. Every Thursday, farmers from nearby villages bring cheese and apples to the square.",
[("1643", ["In what year was Millbrook founded?", "When was the town of Millbrook established?", "Millbrook was founded in which year?"]),
 ("Edmund Harrow", ["Who founded Millbrook?", "Millbrook was founded by whom?", "Which wool merchant established the town of Millbrook?"]),
 ("38 metres", ["How tall is the clock tower in Millbrook?", "What is the height of Millbrook's clock tower?", "The Millbrook clock tower stands how high?"])],
["What is the population of Millbrook?", "Who designed the clock tower in Millbrook?"])

add("River Tallow",
"The River Tallow rises in the Garnet Hills and flows south for 212 kilometres before reaching the sea at Port Wren. Its water has a reddish tint caused by iron in the rocks along its upper course. The largest fish recorded in the river was a salmon weighing 14 kilograms, caught in 1987.",
[("Garnet Hills", ["Where does the River Tallow rise?", "The River Tallow has its source in which hills?", "In what range of hills does the Tallow begin?"]),
 ("212 kilometres", ["How long is the River Tallow?", "For what distance does the River Tallow flow?", "The Tallow flows south for how many kilometres?"]),
 ("Port Wren", ["Where does the River Tallow reach the sea?", "At which place does the Tallow meet the sea?", "The River Tallow ends at what port?"])],
["How many bridges cross the River Tallow?", "Who caught the largest salmon in the River Tallow?"])

add("Harwick Bridge",
"The Harwick Bridge is a stone arch bridge with seven arches. It was completed in 1782 under the direction of engineer Margaret O'Neill. The bridge spans 1,200 metres across the tidal flats and was the longest of its kind in the region for almost a century. Its parapets are decorated with carved seabirds.",
[("1782", ["When was the Harwick Bridge completed?", "In what year was the Harwick Bridge finished?", "The Harwick Bridge was completed in which year?"]),
 ("Margaret O'Neill", ["Which engineer directed the building of the Harwick Bridge?", "Under whose direction was the Harwick Bridge completed?", "The Harwick Bridge was built under the direction of which engineer?"]),
 ("1,200 metres", ["How far does the Harwick Bridge span?", "What is the length of the Harwick Bridge?", "The Harwick Bridge stretches how many metres across the tidal flats?"])],
["How much did the Harwick Bridge cost to build?", "When was the Harwick Bridge last repaired?"])

add("José Almeida",
"José Almeida was a clockmaker from the coastal town of Vila Serena. In 1911 he built a pocket barometer that could fit inside a walnut shell. The device used a thin brass capsule and a needle made from a single horsehair. Almeida later opened a workshop in Lisbon, where he trained twelve apprentices.",
[("José Almeida", ["Who was the clockmaker from Vila Serena?", "Which clockmaker built a barometer small enough to fit in a walnut shell?", "Name the clockmaker who came from the town of Vila Serena."]),
 ("1911", ["In what year did Almeida build his pocket barometer?", "When was the walnut-sized pocket barometer built?", "The tiny pocket barometer was made in which year?"]),
 ("Lisbon", ["Where did Almeida open his workshop?", "In which city was Almeida's workshop located?", "Almeida trained his apprentices in what city?"])],
["When was José Almeida born?", "How much did Almeida's pocket barometer sell for?"])

add("Brightwater Ceramics",
"Brightwater Ceramics was founded by sisters Clara and Ruth Bellamy in 1924. The company is known for its cobalt blue glaze, which is made from a recipe kept secret for three generations. Its main factory in Stoke Ferry employs about 340 people. The firm's best-selling product is a plain teapot called the Morning Pot.",
[("Clara and Ruth Bellamy", ["Who founded Brightwater Ceramics?", "Brightwater Ceramics was started by which sisters?", "Which two sisters established Brightwater Ceramics?"]),
 ("cobalt blue", ["What colour is the glaze Brightwater Ceramics is known for?", "Brightwater Ceramics is famous for a glaze of which colour?", "Which shade of glaze is Brightwater Ceramics known for?"]),
 ("Stoke Ferry", ["Where is the main factory of Brightwater Ceramics?", "In which town does Brightwater Ceramics have its main factory?", "Brightwater's main factory is located where?"])],
["Who is the current chief executive of Brightwater Ceramics?", "What was Brightwater Ceramics' revenue last year?"])

add("Marianne Lee",
"The schooner Marianne Lee was launched in 1856 at the shipyard of Dunmore Bay. She carried timber and salt between the northern ports and made more than 400 voyages. In 1893 she ran aground on Crow Reef during a winter storm, and her figurehead, a carved mermaid, now stands in the town museum.",
[("1856", ["When was the schooner Marianne Lee launched?", "In what year did the Marianne Lee first go into the water?", "The Marianne Lee was launched in which year?"]),
 ("Crow Reef", ["Where did the Marianne Lee run aground?", "On which reef was the Marianne Lee wrecked in 1893?", "The Marianne Lee ran aground on what reef?"]),
 ("a carved mermaid", ["What was the figurehead of the Marianne Lee?", "What shape did the Marianne Lee's figurehead have?", "The schooner's figurehead in the town museum is what?"])],
["Who was the captain of the Marianne Lee?", "How many crew members did the Marianne Lee carry?"])

add("Lantern Festival of Karrow Vale",
"The Lantern Festival of Karrow Vale is held every year on the first Saturday of October. Residents float paper lanterns down the canal, each one painted with the name of a family member. The tradition began in 1952 after a flood destroyed the old market. Around 6,000 lanterns are released during a typical festival.",
[("the first Saturday of October", ["When is the Lantern Festival of Karrow Vale held?", "On what day does Karrow Vale hold its lantern festival?", "The Karrow Vale lantern festival takes place on which day each year?"]),
 ("1952", ["When did the lantern tradition in Karrow Vale begin?", "In what year did the Karrow Vale lantern festival start?", "The lantern tradition began in which year?"]),
 ("6,000", ["How many lanterns are released during a typical Karrow Vale festival?", "About how many lanterns float down the canal at the festival?", "A typical Lantern Festival of Karrow Vale sees roughly how many lanterns released?"])],
["Who organises the Lantern Festival of Karrow Vale?", "What is the prize for the best lantern at the Karrow Vale festival?"])

add("Amber marsh frog",
"The amber marsh frog is a small amphibian found in the wetlands of the Lindqvist Basin. Adults reach a length of only 3.5 centimetres. The males have a bright orange throat, which they inflate when calling at night. Females lay their eggs on floating reeds in late spring.",
[("Lindqvist Basin", ["Where is the amber marsh frog found?", "The amber marsh frog lives in the wetlands of which basin?", "In which basin's wetlands does the amber marsh frog live?"]),
 ("3.5 centimetres", ["How long are adult amber marsh frogs?", "What length does an adult amber marsh frog reach?", "Adult amber marsh frogs grow to how many centimetres?"]),
 ("bright orange", ["What colour is the throat of the male amber marsh frog?", "Male amber marsh frogs have a throat of which colour?", "Which colour is the throat that male amber marsh frogs inflate?"])],
["How long does the amber marsh frog live?", "What do amber marsh frogs eat?"])

add("Harvest bread",
"Harvest bread is a traditional loaf from the hill farms of Penrose. It is made with rye flour, toasted hazelnuts and a spoonful of dark honey. The dough is left to rise overnight and then baked for 50 minutes in a hot oven. Families usually bake it on the last day of the grain harvest.",
[("Penrose", ["Where does harvest bread come from?", "Harvest bread is a traditional loaf from the hill farms of which place?", "From whose hill farms does harvest bread originate?"]),
 ("50 minutes", ["How long is harvest bread baked?", "For how many minutes does harvest bread stay in the oven?", "What is the baking time for harvest bread?"]),
 ("rye flour", ["What kind of flour is used in harvest bread?", "Harvest bread is made with which flour?", "Which flour goes into a loaf of harvest bread?"])],
["How many calories are in a slice of harvest bread?", "Who invented the recipe for harvest bread?"])

add("Redfield Rovers",
"Redfield Rovers is an amateur football club founded in 1898 by railway workers. The club plays its home matches at Cinder Lane, a ground that holds 2,500 spectators. Its players wear green and white striped shirts. The Rovers won the county cup for the first time in 1921.",
[("1898", ["When was Redfield Rovers founded?", "In what year did railway workers found Redfield Rovers?", "Redfield Rovers was established in which year?"]),
 ("Cinder Lane", ["Where does Redfield Rovers play its home matches?", "What is the name of Redfield Rovers' home ground?", "At which ground do the Rovers play at home?"]),
 ("2,500", ["How many spectators does Cinder Lane hold?", "What is the capacity of the Redfield Rovers ground?", "Redfield Rovers' home ground can hold how many spectators?"])],
["Who is the manager of Redfield Rovers?", "How many times have Redfield Rovers won the county cup?"])

add("Hallby spectrograph",
"The Hallby spectrograph was built in 1934 for the small observatory on Mount Fenn. Its glass prism, ground by the optician Zoë Marchetti, weighs 9 kilograms. The instrument measures wavelengths in units of ångström, named after a Swedish physicist. It was used to study the colours of more than 2,000 stars.",
[("Mount Fenn", ["Where is the observatory for which the Hallby spectrograph was built?", "The Hallby spectrograph was made for the observatory on which mountain?", "On what mountain does the Hallby spectrograph's observatory stand?"]),
 ("Zoë Marchetti", ["Who ground the prism of the Hallby spectrograph?", "The glass prism of the Hallby spectrograph was ground by which optician?", "Which optician made the Hallby spectrograph's prism?"]),
 ("9 kilograms", ["How much does the prism of the Hallby spectrograph weigh?", "What is the weight of the Hallby spectrograph's glass prism?", "The Hallby prism weighs how many kilograms?"])],
["Who paid for the Hallby spectrograph?", "Where is the Hallby spectrograph kept today?"])

add("Greta Müller",
"Greta Müller was a mapmaker who charted the coastline of the Serrat Islands in 1902. She travelled by rowing boat and completed the survey in eleven months. Her maps were printed in black and red ink and remained in use until 1960. A lighthouse on the largest island is named in her honour.",
[("Greta Müller", ["Who charted the coastline of the Serrat Islands?", "Which mapmaker surveyed the Serrat Islands coast in 1902?", "The Serrat Islands coastline was charted by whom?"]),
 ("eleven months", ["How long did the survey of the Serrat Islands take?", "In how many months was the Serrat Islands survey completed?", "How much time did Müller need to finish her coastal survey?"]),
 ("black and red", ["In what colours of ink were Müller's maps printed?", "Which ink colours were used for the Serrat Islands maps?", "Müller's maps were printed in which two colours?"])],
["Where was Greta Müller born?", "How many islands are in the Serrat group?"])

add("Pelham Clock Company",
"The Pelham Clock Company was founded in 1871 in the U.S. town of Ashgrove. Its founder, Samuel Pelham, had learned the trade in England. The company's famous Schoolhouse model had an oak case and a face 12 inches across. At its peak the firm sold clocks in 30 countries.",
[("U.S.", ["In which country was the Pelham Clock Company founded?", "The town of Ashgrove, home of the Pelham Clock Company, is in what country?", "What country was the Pelham Clock Company started in?"]),
 ("Samuel Pelham", ["Who founded the Pelham Clock Company?", "The Pelham Clock Company was started by whom?", "Which clockmaker, trained in England, founded the Pelham firm?"]),
 ("12 inches", ["How wide was the face of the Schoolhouse clock?", "What was the size of the Schoolhouse model's face?", "The Schoolhouse clock had a face measuring how many inches across?"])],
["When did the Pelham Clock Company close?", "How much did a Schoolhouse clock cost?"])

add("Tidewater Gallery",
"The Tidewater Gallery is a small art gallery in St. Ives that shows paintings of the sea. It was opened in 1968 by the painter Harold Penwarden. The building was once a fish cellar and still has its original granite floor. Each summer the gallery holds an exhibition of work by local children.",
[("St. Ives", ["Where is the Tidewater Gallery?", "In which town is the Tidewater Gallery located?", "The Tidewater Gallery can be found in what town?"]),
 ("Harold Penwarden", ["Who opened the Tidewater Gallery?", "The Tidewater Gallery was opened by which painter?", "Which painter founded the Tidewater Gallery in 1968?"]),
 ("granite", ["What is the Tidewater Gallery's original floor made of?", "The old fish cellar floor of the Tidewater Gallery is made of which stone?", "Which material forms the original floor of the Tidewater Gallery?"])],
["How many paintings does the Tidewater Gallery own?", "What is the entry fee for the Tidewater Gallery?"])

add("Lake Orun",
"Lake Orun is a deep freshwater lake in the highlands of Veskar. It reaches a depth of 310 metres at its centre, making it the deepest lake in the province. The water is so clear that divers can see 20 metres down on a calm day. A ferry named the Silver Heron crosses the lake twice a day.",
[("310 metres", ["How deep is Lake Orun?", "What is the maximum depth of Lake Orun?", "Lake Orun reaches what depth at its centre?"]),
 ("20 metres", ["How far down can divers see in Lake Orun on a calm day?", "On a calm day, what is the visibility for divers in Lake Orun?", "Divers in Lake Orun can see how many metres down?"]),
 ("Silver Heron", ["What is the name of the ferry that crosses Lake Orun?", "Which ferry crosses Lake Orun twice a day?", "The Lake Orun ferry is called what?"])],
["How long is Lake Orun?", "What species of fish live in Lake Orun?"])

add("Mount Caddis",
"Mount Caddis rises to 2,874 metres above sea level. The first recorded ascent was made in 1859 by a shepherd named Tomas Rell and his dog. Snow covers the summit for about eight months of the year. The mountain's name comes from an old word meaning grey shoulder.",
[("2,874 metres", ["How high is Mount Caddis?", "What is the height of Mount Caddis above sea level?", "Mount Caddis rises to what elevation?"]),
 ("Tomas Rell", ["Who made the first recorded ascent of Mount Caddis?", "Mount Caddis was first climbed by which shepherd?", "Which shepherd reached the top of Mount Caddis in 1859?"]),
 ("grey shoulder", ["What does the name Mount Caddis mean?", "The name of Mount Caddis comes from a word meaning what?", "What is the meaning of the old word behind the mountain's name?"])],
["What was the name of Tomas Rell's dog?", "How many people climb Mount Caddis each year?"])

add("Coastline Express",
"The Coastline Express is a passenger train that runs between Harlow Point and Kenning. The journey covers 186 miles and takes just under four hours. Its locomotives are painted a deep maroon with gold lettering. The service began in 1936 and has run every day since, except during two winters of heavy snow.",
[("186 miles", ["How long is the Coastline Express journey?", "What distance does the Coastline Express cover?", "The trip from Harlow Point to Kenning is how many miles?"]),
 ("deep maroon", ["What colour are the Coastline Express locomotives?", "The locomotives of the Coastline Express are painted which colour?", "In what colour are the Coastline Express engines painted?"]),
 ("1936", ["When did the Coastline Express service begin?", "In what year did the Coastline Express start running?", "The Coastline Express has been running since which year?"])],
["How much does a ticket on the Coastline Express cost?", "How many carriages does the Coastline Express have?"])

add("Fennick Public Library",
"The Fennick Public Library was built in 1905 with money donated by the merchant Arthur Fennick. Its reading room has a domed ceiling made of green glass. The library holds about 85,000 books, including a rare collection of old sea charts. It is open every day except Sunday.",
[("Arthur Fennick", ["Who donated the money to build the Fennick Public Library?", "The Fennick Public Library was paid for by which merchant?", "Which merchant funded the Fennick Public Library?"]),
 ("green glass", ["What is the reading room ceiling of the Fennick Public Library made of?", "The domed ceiling of the Fennick reading room is made from what?", "Which material forms the dome above the Fennick reading room?"]),
 ("85,000", ["How many books does the Fennick Public Library hold?", "About how many books are in the Fennick Public Library?", "The Fennick library's collection numbers roughly how many books?"])],
["Who is the head librarian at the Fennick Public Library?", "How many people visit the Fennick Public Library each year?"])

add("Dusky wren",
"The dusky wren is a songbird that lives in the pine forests of the Kalder Mountains. It weighs around 11 grams and has a short, upturned tail. Its song is a rapid series of notes that can be heard up to 400 metres away. Pairs build their nests in hollow stumps and usually raise two broods a year.",
[("Kalder Mountains", ["Where does the dusky wren live?", "The dusky wren is found in the pine forests of which mountains?", "In which mountain range's forests does the dusky wren live?"]),
 ("11 grams", ["How much does a dusky wren weigh?", "What is the weight of the dusky wren?", "The dusky wren weighs around how many grams?"]),
 ("400 metres", ["How far away can the song of the dusky wren be heard?", "From what distance is the dusky wren's song audible?", "The dusky wren's song carries up to how many metres?"])],
["What colour are the dusky wren's eggs?", "How long does a dusky wren live?"])

add("Tomato and lentil soup",
"Tomato and lentil soup is a simple dish made from red lentils, chopped tomatoes, onion and a little cumin. The lentils are simmered for about 25 minutes until soft. Many cooks add a squeeze of lemon just before serving. A large pot serves six people.",
[("25 minutes", ["How long are the lentils simmered in tomato and lentil soup?", "For how many minutes are the lentils cooked until soft?", "What is the simmering time for the lentils in this soup?"]),
 ("lemon", ["What do many cooks add to tomato and lentil soup just before serving?", "Just before serving, a squeeze of what is added to the soup?", "Which fruit is squeezed into tomato and lentil soup at the end?"]),
 ("six people", ["How many people does a large pot of tomato and lentil soup serve?", "A large pot of the soup feeds how many?", "How many servings does a big pot of tomato and lentil soup give?"])],
["Which country does tomato and lentil soup come from?", "How many calories does a bowl of tomato and lentil soup contain?"])

add("Ada Thornbury",
"Ada Thornbury invented a folding umbrella frame in 1887 while working as a seamstress in Glasford. Her design used eight steel ribs that locked into place with a small brass ring. She sold the patent to a London firm for 300 pounds. The umbrellas were sold under the name Thornbury Compact.",
[("1887", ["When did Ada Thornbury invent the folding umbrella frame?", "In what year was Thornbury's folding umbrella frame invented?", "The folding umbrella frame was invented in which year?"]),
 ("300 pounds", ["How much did Ada Thornbury sell her patent for?", "For what sum was the umbrella patent sold to a London firm?", "What price did the London firm pay for Thornbury's patent?"]),
 ("Thornbury Compact", ["Under what name were Ada Thornbury's umbrellas sold?", "What were the folding umbrellas called when sold?", "The umbrellas based on Ada's design were marketed under which name?"])],
["How many Thornbury Compact umbrellas were sold?", "What was the name of the London firm that bought the umbrella patent?"])

add("Dunraven Keep",
"Dunraven Keep is a ruined castle on a cliff above the village of Marrick. It was built in 1230 by Lord Geoffrey Ashby to guard the river crossing. The walls are made of red sandstone and were once 4 metres thick. The castle was abandoned after a fire in the sixteenth century.",
[("1230", ["When was Dunraven Keep built?", "In what year was Dunraven Keep constructed?", "Dunraven Keep dates from which year?"]),
 ("Lord Geoffrey Ashby", ["Who built Dunraven Keep?", "Dunraven Keep was built by whom?", "Which lord constructed Dunraven Keep to guard the river crossing?"]),
 ("red sandstone", ["What are the walls of Dunraven Keep made of?", "Dunraven Keep's walls were built from which stone?", "Which kind of stone was used for the walls of Dunraven Keep?"])],
["Who owns Dunraven Keep today?", "How many towers did Dunraven Keep have?"])

add("Museum of Weights and Measures",
"The Museum of Weights and Measures in Corley holds more than 3,000 objects, from grain scoops to laboratory balances. Its oldest item is a bronze weight dating from around 600 BC. The museum was opened in 1979 in a former customs house. Entry is free for children under twelve.",
[("3,000 objects", ["How many objects does the Museum of Weights and Measures hold?", "What is the size of the Corley museum's collection?", "The Museum of Weights and Measures holds more than how many objects?"]),
 ("bronze weight", ["What is the oldest item in the Museum of Weights and Measures?", "The Corley museum's oldest object is what?", "Which item dating from around 600 BC is the museum's oldest?"]),
 ("a former customs house", ["In what building was the Museum of Weights and Measures opened?", "Where is the Corley museum housed?", "The Museum of Weights and Measures opened in 1979 in what kind of building?"])],
["Who is the director of the Museum of Weights and Measures?", "How much does an adult ticket to the Museum of Weights and Measures cost?"])

add("Gull Point Lighthouse",
"Gull Point Lighthouse stands 41 metres tall on a rocky headland. Its light, which flashes white every ten seconds, can be seen 22 nautical miles out to sea. The tower was first lit in 1871 and was operated by keepers until 1989. The last keeper was a man named Peter Ouellet.",
[("41 metres", ["How tall is Gull Point Lighthouse?", "What is the height of Gull Point Lighthouse?", "Gull Point Lighthouse stands how many metres tall?"]),
 ("every ten seconds", ["How often does the Gull Point light flash?", "At what interval does Gull Point Lighthouse flash white?", "The light at Gull Point flashes how frequently?"]),
 ("Peter Ouellet", ["Who was the last keeper of Gull Point Lighthouse?", "Gull Point Lighthouse's final keeper was called what?", "Which man was the final keeper at Gull Point?"])],
["Who designed Gull Point Lighthouse?", "How many steps lead to the top of Gull Point Lighthouse?"])

add("Boiling point of water",
"Water boils at 100 degrees Celsius at sea level. At higher altitudes the air pressure is lower, so water boils at a lower temperature. On a high mountain, for example, it may boil at about 70 degrees. This is why cooking pasta takes longer in the mountains.",
[("100 degrees Celsius", ["At what temperature does water boil at sea level?", "What is the boiling point of water at sea level?", "At sea level, water boils at how many degrees?"]),
 ("the air pressure", ["What is lower at higher altitudes?", "Why does water boil at a lower temperature at altitude?", "Which quantity decreases at high altitudes, lowering the boiling point?"]),
 ("about 70 degrees", ["At what temperature may water boil on a high mountain?", "On a high mountain, water boils at roughly what temperature?", "What boiling temperature might you see high in the mountains?"])],
["At what temperature does water freeze?", "Who first measured the boiling point of water?"])

add("Honeybee colony",
"A honeybee colony is led by a single queen, who can lay up to 2,000 eggs in one day. Worker bees are female and live for about six weeks in summer. They communicate the location of flowers through a movement known as the waggle dance. Male bees, called drones, do not collect nectar.",
[("2,000 eggs", ["How many eggs can a queen honeybee lay in one day?", "A honeybee queen can lay up to how many eggs daily?", "What is the maximum daily egg count of a queen bee?"]),
 ("about six weeks", ["How long do worker bees live in summer?", "What is the summer lifespan of a worker bee?", "In summer, worker honeybees live for how long?"]),
 ("waggle dance", ["How do bees communicate the location of flowers?", "What movement do worker bees use to show where flowers are?", "The location of flowers is shared through which dance?"])],
["How much honey does a colony produce in a year?", "How far can a honeybee fly in a day?"])

add("Carrow Ford",
"Carrow Ford is a village of about 900 people on the edge of the  Brennan Moors. Its church has a bell cast in 1711 that is still rung every Sunday. The village is famous for its  plum orchards, and a plum fair is held there each August.",
[("900", ["How many people live in Carrow Ford?", "What is the approximate population of Carrow Ford?", "Carrow Ford is a village of roughly how many people?"]),
 ("1711", ["When was the church bell in Carrow Ford cast?", "In what year was the Carrow Ford church bell made?", "The bell in Carrow Ford's church dates from which year?"]),
 ("August", ["In which month is the plum fair held in Carrow Ford?", "When does Carrow Ford hold its plum fair?", "The Carrow Ford plum fair takes place in what month?"])],
["Who cast the church bell in Carrow Ford?", "How many plum orchards are in Carrow Ford?"])

add("Hallam Canal",
"The Hallam Canal links the town of Bexley Marsh with the River Dane. It is 27 kilometres long and has 14 locks. Construction was led by the engineer Thomas Wick and took six years, ending in 1799. Today the canal is used mainly by holiday boats and anglers.",
[("27 kilometres", ["How long is the Hallam Canal?", "What is the length of the Hallam Canal?", "The Hallam Canal runs for how many kilometres?"]),
 ("14 locks", ["How many locks does the Hallam Canal have?", "What is the number of locks on the Hallam Canal?", "The Hallam Canal has how many locks along it?"]),
 ("Thomas Wick", ["Who led the construction of the Hallam Canal?", "Which engineer built the Hallam Canal?", "The Hallam Canal's construction was led by whom?"])],
["How much did it cost to build the Hallam Canal?", "How deep is the Hallam Canal?"])

add("Oakhurst Mill",
"Oakhurst Mill is a brick tower windmill with four white sails. It was built in 1814 to grind wheat for the nearby farms. The mill stopped working in 1932 but was restored by volunteers in 2004. It still produces a small amount of flour, which is sold in the mill shop.",
[("four", ["How many sails does Oakhurst Mill have?", "Oakhurst Mill has how many white sails?", "What is the number of sails on the Oakhurst windmill?"]),
 ("1814", ["When was Oakhurst Mill built?", "In what year was Oakhurst Mill constructed?", "Oakhurst windmill was built in which year?"]),
 ("volunteers", ["Who restored Oakhurst Mill?", "Oakhurst Mill was restored in 2004 by whom?", "By whom was the Oakhurst windmill brought back to working order?"])],
["Who built Oakhurst Mill?", "How much flour does Oakhurst Mill produce each week?"])

add("Kettle & Finch",
"Kettle & Finch is a tea company based in the port city of Amberley. It was founded in 1962 by Rosa Kettle and her business partner, Leonard Finch. The company's most popular blend mixes black tea with dried orange peel. Its tea is packed in tins decorated with a blue heron.",
[("Kettle & Finch", ["Which tea company is based in Amberley?", "What tea company did Rosa Kettle found?", "Name the tea firm started by Rosa Kettle and Leonard Finch."]),
 ("1962", ["When was Kettle & Finch founded?", "In what year did Rosa Kettle and Leonard Finch start their tea company?", "The Kettle & Finch company dates from which year?"]),
 ("a blue heron", ["What decorates the Kettle & Finch tea tins?", "The tins of Kettle & Finch tea show which bird?", "What picture appears on Kettle & Finch tins?"])],
["How many employees does Kettle & Finch have?", "Where does Kettle & Finch buy its tea leaves?"])

add("Brannock cheese",
"Brannock cheese is a hard cheese made from sheep's milk in the valley of Glen Ardle. Each wheel weighs around 8 kilograms and is aged for at least ten months in a cool cave. The rind is rubbed with ash, which gives it a dark grey colour. The cheese has a nutty, slightly salty taste.",
[("sheep's milk", ["What is Brannock cheese made from?", "Brannock cheese is produced from which kind of milk?", "Which milk is used to make Brannock cheese?"]),
 ("8 kilograms", ["How much does a wheel of Brannock cheese weigh?", "What is the weight of each Brannock cheese wheel?", "A Brannock wheel weighs around how many kilograms?"]),
 ("dark grey", ["What colour is the rind of Brannock cheese?", "Rubbing with ash gives Brannock's rind which colour?", "The Brannock cheese rind is what colour?"])],
["How much does a wheel of Brannock cheese cost?", "Who first made Brannock cheese?"])

add("Mount Sarel",
"Mount Sarel is an active volcano on the island of Teyra. Its last major eruption occurred in 1928, when lava reached the edge of the fishing village of Porto Lume. The crater is about 600 metres wide and often contains a small lake of acidic water. Scientists monitor the volcano from a station on its northern slope.",
[("1928", ["When did Mount Sarel last erupt in a major way?", "In what year was Mount Sarel's last major eruption?", "The last big eruption of Mount Sarel happened in which year?"]),
 ("Porto Lume", ["Which village did the lava from Mount Sarel reach?", "Lava from the 1928 eruption reached the edge of which fishing village?", "What fishing village was nearly reached by Mount Sarel's lava?"]),
 ("600 metres", ["How wide is the crater of Mount Sarel?", "What is the width of Mount Sarel's crater?", "Mount Sarel's crater measures about how many metres across?"])],
["How many people died in the 1928 eruption of Mount Sarel?", "How tall is Mount Sarel?"])

add("Skarn Glacier",
"The Skarn Glacier flows down from an ice field in the northern ranges. It is about 14 kilometres long and has retreated by roughly 900 metres since 1950. Meltwater from the glacier feeds Lake Hvit, which has a milky turquoise colour. Walkers can reach the edge of the ice on a marked path from the valley.",
[("14 kilometres", ["How long is the Skarn Glacier?", "What is the length of the Skarn Glacier?", "The Skarn Glacier stretches about how many kilometres?"]),
 ("900 metres", ["How far has the Skarn Glacier retreated since 1950?", "By how much has the Skarn Glacier shrunk back since 1950?", "Since 1950 the Skarn Glacier has retreated roughly how many metres?"]),
 ("Lake Hvit", ["Which lake does the Skarn Glacier's meltwater feed?", "Meltwater from the Skarn Glacier flows into which lake?", "What is the name of the milky turquoise lake fed by the glacier?"])],
["How thick is the ice of the Skarn Glacier?", "Who first mapped the Skarn Glacier?"])

add("Howling Caves",
"The Howling Caves were discovered in 1841 by two boys searching for a lost goat. The caves stretch for 5.6 kilometres beneath the limestone hills of Dorring. They get their name from the sound the wind makes as it passes through narrow openings. Visitors can take a guided tour that lasts 90 minutes.",
[("1841", ["When were the Howling Caves discovered?", "In what year did two boys find the Howling Caves?", "The Howling Caves were found in which year?"]),
 ("5.6 kilometres", ["How far do the Howling Caves stretch?", "What is the length of the Howling Caves?", "The Howling Caves extend for how many kilometres?"]),
 ("90 minutes", ["How long does the guided tour of the Howling Caves last?", "What is the length of a Howling Caves guided tour?", "A guided visit to the Howling Caves takes how long?"])],
["What were the names of the boys who discovered the Howling Caves?", "How deep are the Howling Caves?"])

add("Eleanor Vance",
"Eleanor Vance was a poet born in the mill town of Ashby Cross in 1874. Her first collection, Songs of the Loom, described the lives of factory workers. She wrote most of her poems at a small desk by a window overlooking the canal. In 1921 she won the Harcourt Prize for poetry.",
[("Songs of the Loom", ["What was Eleanor Vance's first collection called?", "Which poetry collection did Eleanor Vance publish first?", "Eleanor Vance's first book of poems had what title?"]),
 ("1874", ["When was Eleanor Vance born?", "In what year was the poet Eleanor Vance born?", "Eleanor Vance was born in which year?"]),
 ("Harcourt Prize", ["What prize did Eleanor Vance win in 1921?", "Which poetry award did Vance receive in 1921?", "In 1921 Eleanor Vance was given which prize?"])],
["When did Eleanor Vance die?", "How many poems did Eleanor Vance write?"])

add("Lucien Moreau",
"The painter Lucien Moreau is known for his pictures of harbours at dawn. He worked mostly with watercolours and used a pale yellow wash to show early light. His largest painting, Boats at Morning, measures 3 metres across. It hangs in the town hall of his birthplace, Sainte-Claire.",
[("watercolours", ["What medium did Lucien Moreau mostly work with?", "Lucien Moreau painted mainly in which medium?", "Which kind of paint did Moreau mostly use?"]),
 ("3 metres", ["How wide is Boats at Morning?", "What is the size of Lucien Moreau's largest painting?", "Boats at Morning measures how many metres across?"]),
 ("Sainte-Claire", ["Where was Lucien Moreau born?", "What is Lucien Moreau's birthplace?", "In which town hall does Boats at Morning hang?"])],
["In what year was Lucien Moreau born?", "How many paintings did Lucien Moreau sell?"])

add("Nadia Koval",
"Nadia Koval won the national chess championship at the age of 16, becoming the youngest winner in its history. She is famous for a game in 1998 that lasted 141 moves and ended in a draw. Her favourite opening is the Sicilian Defence. She now teaches chess at a school in Odessa.",
[("16", ["How old was Nadia Koval when she won the national chess championship?", "At what age did Koval become national chess champion?", "Nadia Koval was how old when she won her national title?"]),
 ("141 moves", ["How long was Nadia Koval's famous 1998 game?", "How many moves did Koval's 1998 drawn game last?", "Koval's celebrated game of 1998 went on for how many moves?"]),
 ("Sicilian Defence", ["What is Nadia Koval's favourite opening?", "Which chess opening does Nadia Koval prefer?", "Koval's favourite opening is called what?"])],
["Who did Nadia Koval play in her 141-move game?", "How many times has Nadia Koval won the national championship?"])

add("Tour of the Three Valleys",
"The Tour of the Three Valleys is a cycling race held each May. The route covers 640 kilometres over five stages, with the hardest climb at Col de Varenne. The winner receives a jersey coloured sky blue. The race was first held in 1949 with only 23 riders.",
[("640 kilometres", ["How long is the route of the Tour of the Three Valleys?", "What distance does the Tour of the Three Valleys cover?", "The Three Valleys race covers how many kilometres?"]),
 ("Col de Varenne", ["Where is the hardest climb of the Tour of the Three Valleys?", "Which climb is the toughest in the Tour of the Three Valleys?", "The hardest ascent of the Three Valleys race is at which col?"]),
 ("sky blue", ["What colour is the winner's jersey in the Tour of the Three Valleys?", "The Three Valleys winner receives a jersey of which colour?", "Which colour jersey goes to the winner of the Tour of the Three Valleys?"])],
["Who has won the Tour of the Three Valleys the most times?", "What is the prize money for the Tour of the Three Valleys?"])

add("Lakeside Marathon",
"The Lakeside Marathon follows a flat course around Lake Merrow. About 4,500 runners take part each year. Water stations are placed every five kilometres along the route. The course record of 2 hours 9 minutes was set in 2011 by Samuel Kiprono.",
[("4,500", ["How many runners take part in the Lakeside Marathon?", "About how many people run the Lakeside Marathon each year?", "The Lakeside Marathon attracts roughly how many runners?"]),
 ("2 hours 9 minutes", ["What is the course record for the Lakeside Marathon?", "The Lakeside Marathon record time is what?", "How fast is the fastest time ever run at the Lakeside Marathon?"]),
 ("Samuel Kiprono", ["Who holds the Lakeside Marathon course record?", "The course record at Lake Merrow was set by whom?", "Which runner set the Lakeside Marathon record in 2011?"])],
["When was the first Lakeside Marathon held?", "What is the women's course record for the Lakeside Marathon?"])

add("Radio Harbourside",
"Radio Harbourside began broadcasting in 1957 from a room above a bakery in Wexcombe. It was started by a retired sailor, Dennis O'Hara, who wanted to share shipping forecasts with local fishermen. The station now broadcasts on 98.4 FM. Its most popular programme is a request show on Sunday evenings.",
[("1957", ["When did Radio Harbourside begin broadcasting?", "In what year did Radio Harbourside go on air?", "Radio Harbourside started broadcasting in which year?"]),
 ("Dennis O'Hara", ["Who started Radio Harbourside?", "Radio Harbourside was founded by which retired sailor?", "Which former sailor set up Radio Harbourside?"]),
 ("98.4 FM", ["On what frequency does Radio Harbourside broadcast?", "Where on the dial can Radio Harbourside be found?", "Radio Harbourside now broadcasts on which frequency?"])],
["How many listeners does Radio Harbourside have?", "Who presents the Sunday request show on Radio Harbourside?"])

add("Morrow Gazette",
"The Morrow Gazette is a weekly newspaper first printed in 1868. Its founder, Henrietta Cole, was one of the first women to own a newspaper in the county. The paper is printed on Thursdays and sells around 12,000 copies. Its office is in a narrow building on Quay Street.",
[("Henrietta Cole", ["Who founded the Morrow Gazette?", "The Morrow Gazette was founded by whom?", "Which woman established the Morrow Gazette?"]),
 ("Thursdays", ["On what day is the Morrow Gazette printed?", "When each week does the Morrow Gazette go to print?", "The Morrow Gazette is printed on which day of the week?"]),
 ("Quay Street", ["Where is the Morrow Gazette's office?", "On which street does the Morrow Gazette have its office?", "The Gazette's narrow office building stands on what street?"])],
["Who is the current editor of the Morrow Gazette?", "How much does a copy of the Morrow Gazette cost?"])

add("Alder Street Theatre",
"The Alder Street Theatre opened in 1899 with a performance of a comic opera. The auditorium seats 620 people and has a ceiling painted with gold stars on a dark blue background. In 1976 the theatre was saved from demolition by a campaign led by the actor Miriam Stokes. It now hosts plays, concerts and a yearly pantomime.",
[("620", ["How many people does the Alder Street Theatre seat?", "What is the seating capacity of the Alder Street auditorium?", "The Alder Street Theatre auditorium holds how many people?"]),
 ("gold stars", ["What is painted on the ceiling of the Alder Street Theatre?", "The Alder Street Theatre ceiling is decorated with what?", "What decorations appear on the dark blue ceiling of the theatre?"]),
 ("Miriam Stokes", ["Who led the campaign to save the Alder Street Theatre?", "The 1976 campaign to save the theatre was led by which actor?", "Which actor saved the Alder Street Theatre from demolition?"])],
["Who designed the Alder Street Theatre?", "What was the name of the comic opera performed on the theatre's opening night?"])

add("Silver fern-palm",
"The silver fern-palm is a slow-growing plant found on the volcanic slopes of the Eskar Islands. Its leaves have a silvery underside that reflects sunlight. A mature plant may reach 6 metres in height but takes about eighty years to do so. Its seeds are spread by fruit bats.",
[("Eskar Islands", ["Where is the silver fern-palm found?", "The silver fern-palm grows on the volcanic slopes of which islands?", "On what islands does the silver fern-palm grow?"]),
 ("eighty years", ["How long does a silver fern-palm take to reach full height?", "How many years does the silver fern-palm need to reach 6 metres?", "It takes a silver fern-palm about how long to grow to maturity?"]),
 ("fruit bats", ["What spreads the seeds of the silver fern-palm?", "The seeds of the silver fern-palm are dispersed by which animals?", "Which animals carry silver fern-palm seeds?"])],
["What colour are the flowers of the silver fern-palm?", "Is the silver fern-palm endangered?"])

add("Quartz",
"Quartz is one of the most common minerals in the Earth's crust. It is made of silicon and oxygen and has a hardness of 7 on the Mohs scale. Pure quartz is colourless, while purple varieties are known as amethyst. Quartz crystals are used in watches because they vibrate at a very steady rate.",
[("silicon and oxygen", ["What elements is quartz made of?", "Quartz is composed of which two elements?", "Which elements make up quartz?"]),
 ("7", ["What is the hardness of quartz on the Mohs scale?", "How hard is quartz according to the Mohs scale?", "Quartz has what Mohs hardness value?"]),
 ("amethyst", ["What is purple quartz called?", "Purple varieties of quartz are known by which name?", "What name is given to quartz that is purple?"])],
["Where is the largest quartz crystal ever found?", "Who discovered that quartz crystals vibrate at a steady rate?"])

add("Inishmara",
"Inishmara is a small island 11 kilometres off the western coast. About 140 people live there, most of them working in fishing or sheep farming. The island has no cars, and supplies arrive on a boat called the Brigid every Tuesday. Its highest point is a hill known as Cnoc Bán.",
[("Brigid", ["What boat brings supplies to Inishmara?", "Supplies reach Inishmara on a boat with what name?", "Which boat delivers supplies to the island of Inishmara?"]),
 ("Tuesday", ["On which day do supplies arrive on Inishmara?", "When each week does the supply boat reach Inishmara?", "The Brigid arrives at Inishmara on what day?"]),
 ("Cnoc Bán", ["What is the highest point on Inishmara?", "Inishmara's highest hill is called what?", "Which hill is the highest point of Inishmara?"])],
["When did people first settle on Inishmara?", "Does Inishmara have a school?"])
# Passages 46-90

add("Corran Dam",
"The Corran Dam was completed in 1967 to supply water and electricity to the city of Dunmere. The concrete wall is 118 metres high and holds back a reservoir that flooded the old village of Lisk. When the water level is low, the church spire of the drowned village can still be seen.",
[("1967", ["When was the Corran Dam completed?", "In what year was the Corran Dam finished?", "The Corran Dam was completed in which year?"]),
 ("118 metres", ["How high is the wall of the Corran Dam?", "What is the height of the Corran Dam's concrete wall?", "The Corran Dam wall stands how many metres high?"]),
 ("Lisk", ["Which village was flooded by the Corran Dam reservoir?", "What was the name of the village drowned by the Corran reservoir?", "The reservoir behind the Corran Dam covered which old village?"])],
["How much electricity does the Corran Dam generate?", "How many people lived in Lisk before it was flooded?"])

add("Marlow Hill Tunnel",
"The Marlow Hill Tunnel carries the railway under a ridge of chalk for 2.3 kilometres. It was dug by hand between 1838 and 1841 by around 1,100 workers. The entrance at the southern end is decorated with a stone arch in the shape of a horseshoe.",
[("2.3 kilometres", ["How long is the Marlow Hill Tunnel?", "What is the length of the Marlow Hill Tunnel?", "The Marlow Hill Tunnel runs under the chalk ridge for how far?"]),
 ("1,100 workers", ["How many workers dug the Marlow Hill Tunnel?", "The Marlow Hill Tunnel was dug by roughly how many people?", "What size was the workforce that built the Marlow Hill Tunnel?"]),
 ("a horseshoe", ["What shape is the stone arch at the southern entrance of the Marlow Hill Tunnel?", "The southern entrance arch of the tunnel is shaped like what?", "In the shape of what is the Marlow Hill Tunnel's southern arch?"])],
["How many workers died building the Marlow Hill Tunnel?", "Who was the engineer of the Marlow Hill Tunnel?"])

add("Great Bell of Sanderholm",
"The Great Bell of Sanderholm weighs 7.5 tonnes and hangs in the tower of the old cathedral. It was cast in 1620 by the bell founder Hendrik Vos. The bell is rung only on special occasions, such as the crowning of a new mayor. Its deep note is said to be heard across the entire bay.",
[("7.5 tonnes", ["How much does the Great Bell of Sanderholm weigh?", "What is the weight of the Great Bell of Sanderholm?", "The Sanderholm bell weighs how many tonnes?"]),
 ("1620", ["When was the Great Bell of Sanderholm cast?", "In what year was the Sanderholm bell made?", "The Great Bell of Sanderholm dates from which year?"]),
 ("Hendrik Vos", ["Who cast the Great Bell of Sanderholm?", "The Great Bell of Sanderholm was cast by which bell founder?", "Which founder made the great bell in Sanderholm's cathedral?"])],
["What is written on the Great Bell of Sanderholm?", "When was the Great Bell of Sanderholm last rung?"])

add("Copper beetle",
"The copper beetle is a small insect found in the dry grasslands of the southern plains. Its shell has a metallic sheen that changes from copper to green depending on the light. Adults are about 9 millimetres long and feed mainly on clover leaves. They are most active in the early evening.",
[("9 millimetres", ["How long is an adult copper beetle?", "What is the length of adult copper beetles?", "Adult copper beetles measure about how many millimetres?"]),
 ("clover leaves", ["What do copper beetles mainly eat?", "Adult copper beetles feed mainly on what?", "Which leaves make up most of the copper beetle's diet?"]),
 ("the early evening", ["When are copper beetles most active?", "At what time of day are copper beetles busiest?", "Copper beetles show the most activity during which part of the day?"])],
["How many eggs does a copper beetle lay?", "What animals eat copper beetles?"])

add("Old Oak of Brindle Green",
"The Old Oak of Brindle Green is thought to be about 850 years old. Its trunk has a circumference of 11 metres, and a hollow inside it is large enough for four people to stand in. According to local legend, a runaway prince once hid inside the tree during a storm.",
[("850 years", ["How old is the Old Oak of Brindle Green?", "What is the estimated age of the Brindle Green oak?", "The Old Oak of Brindle Green is thought to be how many years old?"]),
 ("11 metres", ["What is the circumference of the Old Oak's trunk?", "How big around is the trunk of the Brindle Green oak?", "The trunk of the Old Oak measures how many metres round?"]),
 ("four people", ["How many people can stand inside the hollow of the Old Oak?", "The hollow in the Brindle Green oak is large enough for how many people?", "How many people fit inside the Old Oak's hollow trunk?"])],
["Who planted the Old Oak of Brindle Green?", "How tall is the Old Oak of Brindle Green?"])

add("Dubois family bakery",
"The Dubois family bakery in the town of Rochemont has been open since 1903. Its signature pastry is a pear tart flavoured with a pinch of cinnamon. The bakery still uses its original wood-fired oven, which was built by a local mason named Étienne Girard. Each morning the first loaves come out at 5 a.m.",
[("pear tart", ["What is the signature pastry of the Dubois family bakery?", "The Rochemont bakery is best known for which pastry?", "Which pastry is the Dubois bakery's speciality?"]),
 ("Étienne Girard", ["Who built the oven at the Dubois family bakery?", "The wood-fired oven in the Dubois bakery was built by which mason?", "Which local mason made the Dubois bakery's original oven?"]),
 ("5 a.m.", ["What time do the first loaves come out at the Dubois bakery?", "When each morning are the first Dubois loaves ready?", "At what hour does the Rochemont bakery take out its first bread?"])],
["Who runs the Dubois family bakery today?", "How many loaves does the Dubois bakery sell each day?"])

add("Hollow Tree Cider",
"Hollow Tree Cider is pressed at a farm near the village of Wendle. The farm grows 23 varieties of apple, including a rare russet called Wendle Gold. The juice is fermented in oak barrels for six months before bottling. The farm has been run by the Prescott family since 1931.",
[("23 varieties", ["How many varieties of apple does the Hollow Tree farm grow?", "The cider farm near Wendle grows how many kinds of apple?", "What number of apple varieties are grown for Hollow Tree Cider?"]),
 ("Wendle Gold", ["What is the name of the rare russet grown by the Hollow Tree farm?", "Which rare russet apple is grown on the Hollow Tree farm?", "The rare russet apple at the Hollow Tree farm is called what?"]),
 ("six months", ["How long is Hollow Tree Cider fermented?", "For how long does the juice ferment in oak barrels before bottling?", "What is the fermentation time of Hollow Tree Cider?"])],
["How many bottles of Hollow Tree Cider are made each year?", "Where is Hollow Tree Cider sold?"])

add("Greystone Mill",
"Greystone Mill was a cotton mill on the River Ebb that opened in 1826. At its height it employed 1,400 workers and ran 600 looms. The mill's tall chimney, built of yellow brick, is 61 metres high and is now a listed landmark. The mill closed in 1958 and today houses flats and a small museum.",
[("1,400 workers", ["How many people did Greystone Mill employ at its height?", "At its peak, Greystone Mill had how many workers?", "What was the largest workforce of Greystone Mill?"]),
 ("yellow brick", ["What is the chimney of Greystone Mill built of?", "Greystone Mill's chimney is made of which material?", "Which kind of brick was used for the Greystone chimney?"]),
 ("61 metres", ["How tall is the chimney of Greystone Mill?", "What is the height of the Greystone Mill chimney?", "The Greystone chimney rises how many metres?"])],
["Who owned Greystone Mill?", "How much were workers at Greystone Mill paid?"])

add("Pennock tin mine",
"The Pennock tin mine operated for nearly 300 years before it closed in 1921. Its deepest shaft went down 480 metres below the surface. Miners climbed down wooden ladders at the start of each shift, a journey that could take an hour. The old engine house is now pictured on the county flag.",
[("1921", ["When did the Pennock tin mine close?", "In what year was the Pennock mine shut down?", "The Pennock tin mine closed in which year?"]),
 ("480 metres", ["How deep was the deepest shaft of the Pennock mine?", "What depth did Pennock's deepest shaft reach?", "The deepest shaft at Pennock went down how many metres?"]),
 ("wooden ladders", ["How did Pennock miners get down the mine?", "What did miners at Pennock climb down at the start of each shift?", "Miners at the Pennock mine descended using what?"])],
["How much tin did the Pennock mine produce?", "How many miners worked at the Pennock mine?"])

add("Sallow Desert",
"The Sallow Desert covers about 40,000 square kilometres of the interior plateau. Rain falls on only a few days each year, and summer temperatures can reach 48 degrees Celsius. The desert's best-known landmark is a sandstone pillar called the Needle. Nomadic herders cross it with camels in the cooler months.",
[("40,000 square kilometres", ["How large is the Sallow Desert?", "What area does the Sallow Desert cover?", "The Sallow Desert spreads over about how many square kilometres?"]),
 ("48 degrees Celsius", ["How hot can the Sallow Desert get in summer?", "What temperature can summer reach in the Sallow Desert?", "Summer temperatures in the Sallow Desert can climb to what?"]),
 ("the Needle", ["What is the best-known landmark of the Sallow Desert?", "What is the sandstone pillar in the Sallow Desert called?", "The Sallow Desert's famous pillar has what name?"])],
["How old is the Sallow Desert?", "What is the lowest temperature recorded in the Sallow Desert?"])

add("Fenwick Airfield",
"Fenwick Airfield opened in 1931 as a grass landing strip for mail planes. Its first paved runway, 1,800 metres long, was built in 1952. The control tower is a round white building with a copper roof. Today the airfield is used by a flying school and a small air ambulance service.",
[("mail planes", ["What was Fenwick Airfield originally built for?", "The grass strip at Fenwick first served which aircraft?", "For what kind of planes did Fenwick Airfield open in 1931?"]),
 ("1,800 metres", ["How long was Fenwick Airfield's first paved runway?", "What was the length of the first paved runway at Fenwick?", "Fenwick's first paved runway measured how many metres?"]),
 ("a copper roof", ["What kind of roof does the Fenwick control tower have?", "The round white control tower at Fenwick is topped with what?", "What covers the top of Fenwick Airfield's control tower?"])],
["How many flights land at Fenwick Airfield each day?", "Who owns Fenwick Airfield?"])

add("Ribbon dance of Valmora",
"The ribbon dance of Valmora is performed by twelve dancers holding long strips of coloured silk. It is traditionally danced on Midsummer Eve in the village square. The music is played on a small drum and a wooden flute called a pifaro. Each ribbon is exactly 4 metres long.",
[("twelve", ["How many dancers perform the ribbon dance of Valmora?", "The Valmora ribbon dance is performed by how many dancers?", "What is the number of dancers in the ribbon dance of Valmora?"]),
 ("Midsummer Eve", ["When is the ribbon dance of Valmora traditionally performed?", "On what occasion is the Valmora ribbon dance danced?", "The ribbon dance takes place on which evening?"]),
 ("4 metres", ["How long is each ribbon in the Valmora dance?", "What is the length of the ribbons used in the ribbon dance?", "Each silk ribbon in the dance measures how many metres?"])],
["When did the ribbon dance of Valmora begin?", "Who teaches the ribbon dance to children in Valmora?"])

add("Pebble-run",
"Pebble-run is a board game for two players invented by a schoolteacher, Arthur Quine, in 1948. Players move 15 pebbles each around a board of 24 holes. The aim is to capture all of the opponent's pebbles. The game became popular in cafés along the coast during the 1950s.",
[("Arthur Quine", ["Who invented pebble-run?", "Pebble-run was invented by which schoolteacher?", "Which teacher created the board game pebble-run?"]),
 ("15 pebbles", ["How many pebbles does each pebble-run player move?", "Each player in pebble-run has how many pebbles?", "What number of pebbles does a pebble-run player start with?"]),
 ("24 holes", ["How many holes does a pebble-run board have?", "The pebble-run board is made up of how many holes?", "What is the number of holes on the board used for pebble-run?"])],
["How long does a game of pebble-run usually take?", "What are pebble-run boards made of?"])

add("Aurora-3",
"The weather satellite Aurora-3 was launched in 2009 from a site on the northern coast. It circles the Earth at a height of 820 kilometres and completes an orbit every 101 minutes. The satellite carries a camera that can photograph clouds at night using infrared light.",
[("2009", ["When was Aurora-3 launched?", "In what year did the weather satellite Aurora-3 go into space?", "Aurora-3 was launched in which year?"]),
 ("820 kilometres", ["At what height does Aurora-3 orbit the Earth?", "How high above the Earth does Aurora-3 circle?", "What is the orbital altitude of Aurora-3?"]),
 ("101 minutes", ["How long does Aurora-3 take to complete one orbit?", "What is the orbital period of Aurora-3?", "Aurora-3 goes round the Earth once every how many minutes?"])],
["How much did the Aurora-3 satellite cost?", "Which company built Aurora-3?"])

add("Bellhaven telescope",
"The Bellhaven refracting telescope has a main lens 61 centimetres across, ground in 1893 by the optician Walter Greig. The telescope is housed in a wooden dome that rotates on cannonballs. Astronomers used it to discover a faint comet in 1907, which was named Comet Bellhaven.",
[("61 centimetres", ["How wide is the main lens of the Bellhaven telescope?", "What is the diameter of the Bellhaven telescope's lens?", "The Bellhaven lens measures how many centimetres across?"]),
 ("Walter Greig", ["Who ground the lens of the Bellhaven telescope?", "The Bellhaven telescope's main lens was ground by which optician?", "Which optician made the Bellhaven lens in 1893?"]),
 ("cannonballs", ["What does the Bellhaven telescope's dome rotate on?", "The wooden dome of the Bellhaven telescope turns on what?", "On what objects does the Bellhaven dome rotate?"])],
["How long is the tube of the Bellhaven telescope?", "Which astronomer discovered Comet Bellhaven?"])

add("Ravensworth School",
"Ravensworth School was founded in 1612 by a wealthy wool trader, Sir Thomas Ravens. The school has about 550 pupils and is known for its rowing club. Its motto, written in Latin above the main door, means 'learning lights the way'. Pupils wear a dark green blazer with a silver badge.",
[("Sir Thomas Ravens", ["Who founded Ravensworth School?", "Ravensworth School was founded by which wool trader?", "Which wealthy trader established Ravensworth School?"]),
 ("550", ["How many pupils does Ravensworth School have?", "What is the number of pupils at Ravensworth School?", "Ravensworth School has about how many pupils?"]),
 ("dark green", ["What colour is the Ravensworth School blazer?", "Pupils at Ravensworth wear a blazer of which colour?", "Which colour blazer is part of the Ravensworth uniform?"])],
["Who is the headteacher of Ravensworth School?", "How much are the fees at Ravensworth School?"])

add("Zoë Halloran",
"Zoë Halloran is a cellist who grew up in the harbour town of Kilbride. She began playing at the age of seven on an instrument borrowed from her grandmother. In 2015 she won first prize at the Vienna String Competition. Her cello was made in 1742 by the Italian craftsman Paolo Ricci.",
[("Zoë Halloran", ["Which cellist grew up in Kilbride?", "Who won first prize at the Vienna String Competition in 2015?", "Name the cellist whose instrument was made by Paolo Ricci."]),
 ("1742", ["When was Zoë Halloran's cello made?", "In what year was Halloran's cello built?", "The cello played by Zoë Halloran dates from which year?"]),
 ("Paolo Ricci", ["Who made Zoë Halloran's cello?", "Halloran's cello was made by which Italian craftsman?", "Which craftsman built the cello that Zoë Halloran plays?"])],
["Who taught Zoë Halloran to play the cello?", "How many albums has Zoë Halloran recorded?"])

add("The Glass Orchard",
"The opera The Glass Orchard was composed by Henrik Dahl and first performed in 1911. It tells the story of a gardener who grows fruit made of glass. The premiere took place at the Royal Theatre in Kessel, and the lead role was sung by the soprano Ingrid Falk. A full performance lasts about three hours.",
[("Henrik Dahl", ["Who composed The Glass Orchard?", "The opera The Glass Orchard was written by which composer?", "Which composer created The Glass Orchard?"]),
 ("Ingrid Falk", ["Who sang the lead role in the premiere of The Glass Orchard?", "The lead role at the premiere of The Glass Orchard was sung by which soprano?", "Which soprano first sang the leading part in The Glass Orchard?"]),
 ("three hours", ["How long does a full performance of The Glass Orchard last?", "What is the running time of The Glass Orchard?", "A complete performance of The Glass Orchard takes about how long?"])],
["How many acts does The Glass Orchard have?", "Who wrote the libretto for The Glass Orchard?"])

add("Penhallow Saturday market",
"The Saturday market at Penhallow has been held in the same cobbled square since 1574. Around 80 stalls sell fish, vegetables, wool and hand-made baskets. The market bell is rung at exactly 7 o'clock to signal the start of trading. Traders who arrive after the bell must pay a small fine.",
[("1574", ["Since when has the Penhallow Saturday market been held?", "In what year did the Penhallow market begin in its cobbled square?", "The Saturday market at Penhallow dates back to which year?"]),
 ("80 stalls", ["How many stalls are at the Penhallow market?", "About how many stalls does the Penhallow Saturday market have?", "What is the number of stalls at the Saturday market in Penhallow?"]),
 ("7 o'clock", ["What time is the Penhallow market bell rung?", "When does trading start at the Penhallow market?", "At what hour does the market bell in Penhallow ring?"])],
["How much does a stall at the Penhallow market cost?", "Who started the Saturday market at Penhallow?"])

add("The Moon",
"The Moon orbits the Earth at an average distance of about 384,000 kilometres. It takes roughly 27 days to complete one orbit. Because the same side always faces the Earth, the far side of the Moon was not seen until a spacecraft photographed it in 1959. The Moon has no air, so its sky appears black even during the day.",
[("384,000 kilometres", ["How far is the Moon from the Earth on average?", "What is the average distance between the Earth and the Moon?", "The Moon orbits at an average distance of how many kilometres?"]),
 ("27 days", ["How long does the Moon take to orbit the Earth?", "What is the time the Moon needs for one orbit?", "One orbit of the Moon takes roughly how many days?"]),
 ("1959", ["When was the far side of the Moon first photographed?", "In what year did a spacecraft first photograph the Moon's far side?", "The far side of the Moon was first seen in which year?"])],
["How old is the Moon?", "Who was the first person to walk on the Moon?"])

add("Photosynthesis",
"Plants make their own food through a process called photosynthesis. Using energy from sunlight, they turn water and carbon dioxide into sugar. Oxygen is released as a by-product. Most photosynthesis takes place in the leaves, inside tiny structures called chloroplasts.",
[("water and carbon dioxide", ["What do plants turn into sugar during photosynthesis?", "Which substances are converted into sugar by plants?", "Plants use sunlight to turn what into sugar?"]),
 ("Oxygen", ["What is released as a by-product of photosynthesis?", "Which gas do plants give off during photosynthesis?", "Photosynthesis releases what as a by-product?"]),
 ("chloroplasts", ["In what structures does most photosynthesis take place?", "What are the tiny structures inside leaves where photosynthesis happens?", "Most photosynthesis occurs inside which tiny structures?"])],
["How many species of plants use photosynthesis?", "Who discovered photosynthesis?"])

add("Research vessel Petrel",
"The research vessel Petrel was built in 1974 to study ocean currents in the far south. She is 64 metres long and can carry 30 scientists on voyages of up to two months. Her hull is painted bright red so that she can be easily spotted among the ice.",
[("64 metres", ["How long is the research vessel Petrel?", "What is the length of the Petrel?", "The research ship Petrel measures how many metres?"]),
 ("30 scientists", ["How many scientists can the Petrel carry?", "The Petrel has room for how many scientists?", "What number of scientists can travel on the Petrel?"]),
 ("bright red", ["What colour is the hull of the Petrel?", "The Petrel's hull is painted which colour?", "In what colour is the research vessel's hull painted?"])],
["Who was the first captain of the Petrel?", "How fast can the Petrel sail?"])

add("Duchess of Calder",
"The paddle steamer Duchess of Calder carried passengers on Loch Varran from 1902 to 1965. Her two paddle wheels were driven by a coal-fired engine. On summer weekends she could carry up to 750 passengers. The ship was broken up for scrap, but her bell hangs in the pier café at Inverloch.",
[("coal-fired engine", ["What drove the paddle wheels of the Duchess of Calder?", "The Duchess of Calder's paddle wheels were powered by what?", "What kind of engine did the Duchess of Calder have?"]),
 ("750", ["How many passengers could the Duchess of Calder carry?", "On summer weekends the Duchess of Calder took up to how many passengers?", "What was the passenger capacity of the Duchess of Calder?"]),
 ("Inverloch", ["Where does the bell of the Duchess of Calder hang?", "The Duchess of Calder's bell is kept in the pier café of which place?", "In which town's pier café is the steamer's bell displayed?"])],
["Who built the Duchess of Calder?", "How much did a ticket on the Duchess of Calder cost?"])

add("Kestrel Rowing Club",
"The Kestrel Rowing Club was formed in 1864 by students who rowed on the River Mael. The club's boathouse, built of timber, sits on wooden stilts above the water. Its crews race in white vests with a single black stripe. The club's eight won the Regional Challenge Cup in 1990.",
[("1864", ["When was the Kestrel Rowing Club formed?", "In what year did students form the Kestrel Rowing Club?", "The Kestrel Rowing Club dates from which year?"]),
 ("wooden stilts", ["What does the Kestrel Rowing Club boathouse sit on?", "The timber boathouse of the Kestrel club stands on what?", "What holds the Kestrel boathouse above the water?"]),
 ("a single black stripe", ["What marking is on the Kestrel Rowing Club's racing vests?", "The white vests of Kestrel crews have what on them?", "How are the Kestrel club's white racing vests decorated?"])],
["How many members does the Kestrel Rowing Club have?", "Who coaches the Kestrel Rowing Club?"])

add("Ashcombe Cricket Club",
"Ashcombe Cricket Club plays on a ground surrounded by beech trees. The club's oldest trophy is a silver jug won in 1887. Its record score of 412 runs in a single innings was made against Fallowfield in 1934. The pavilion has a thatched roof.",
[("beech trees", ["What surrounds the Ashcombe Cricket Club ground?", "The Ashcombe cricket ground is surrounded by which trees?", "Which kind of trees ring the ground at Ashcombe?"]),
 ("412 runs", ["What is Ashcombe Cricket Club's record score?", "Ashcombe's highest score in a single innings is how many runs?", "How many runs did Ashcombe score in its record innings?"]),
 ("a thatched roof", ["What kind of roof does the Ashcombe pavilion have?", "The pavilion at Ashcombe Cricket Club is topped by what?", "What covers the Ashcombe Cricket Club pavilion?"])],
["Who is the captain of Ashcombe Cricket Club?", "Which player scored the most runs in Ashcombe's record innings?"])

add("Cold cucumber soup",
"Cold cucumber soup is a summer dish made by blending cucumber with yoghurt, garlic and fresh mint. It needs no cooking and can be prepared in about ten minutes. The soup should be chilled for at least two hours before serving. It is often topped with a few drops of olive oil.",
[("ten minutes", ["How long does it take to prepare cold cucumber soup?", "Cold cucumber soup can be made in how many minutes?", "What is the preparation time for cold cucumber soup?"]),
 ("two hours", ["How long should cold cucumber soup be chilled?", "For how long must cucumber soup be chilled before serving?", "What is the minimum chilling time for cold cucumber soup?"]),
 ("olive oil", ["What is cold cucumber soup often topped with?", "A few drops of what are added on top of cold cucumber soup?", "Which topping is usually drizzled over cold cucumber soup?"])],
["Where did cold cucumber soup originate?", "How many people does a batch of cold cucumber soup serve?"])

add("Plum dumplings",
"Plum dumplings are made by wrapping whole plums in a soft potato dough. Each plum is stoned and filled with a cube of sugar before being wrapped. The dumplings are boiled for 12 minutes and then rolled in buttered breadcrumbs. They are usually served with a sprinkle of cinnamon.",
[("a soft potato dough", ["What are the plums wrapped in to make plum dumplings?", "Plum dumplings use which kind of dough?", "Whole plums are wrapped in what for plum dumplings?"]),
 ("12 minutes", ["How long are plum dumplings boiled?", "For how many minutes do plum dumplings boil?", "What is the boiling time for plum dumplings?"]),
 ("buttered breadcrumbs", ["What are plum dumplings rolled in after boiling?", "After boiling, the dumplings are coated in what?", "In what are the boiled plum dumplings rolled?"])],
["In which country were plum dumplings invented?", "How many plum dumplings does the recipe make?"])

add("Hiroshi Tanabe",
"Hiroshi Tanabe, an engineer from the town of Minato-ura, designed a quiet electric fan in 1956. His fan used curved blades shaped like the wings of an owl. It was 40 per cent quieter than other fans of the time. The company he founded, Tanabe Air, still makes fans today.",
[("the wings of an owl", ["What were the blades of Tanabe's fan shaped like?", "Hiroshi Tanabe's curved fan blades imitated what?", "The blades on Tanabe's quiet fan were modelled on what?"]),
 ("40 per cent", ["How much quieter was Tanabe's fan than other fans?", "By what percentage did Tanabe's fan reduce noise compared with others?", "Tanabe's fan was quieter than its rivals by how much?"]),
 ("Tanabe Air", ["What company did Hiroshi Tanabe found?", "Which company started by Tanabe still makes fans?", "Hiroshi Tanabe's company is called what?"])],
["How many fans did Hiroshi Tanabe sell?", "Where was Hiroshi Tanabe educated?"])

add("Beatrix Hale",
"Beatrix Hale patented a mechanical apple peeler in 1869. The device was turned by a hand crank and could peel an apple in about six seconds. Hale sold her peelers door to door in the farming towns of the U.S. state of Vermont. By 1880 more than 20,000 had been made.",
[("a hand crank", ["How was Beatrix Hale's apple peeler operated?", "The mechanical apple peeler was turned by what?", "What did users turn to work Hale's apple peeler?"]),
 ("six seconds", ["How quickly could Hale's device peel an apple?", "How long did Hale's peeler take to peel one apple?", "An apple could be peeled in about how many seconds by Hale's machine?"]),
 ("20,000", ["How many of Hale's apple peelers had been made by 1880?", "By 1880, more than how many peelers had been produced?", "What number of Hale's peelers existed by 1880?"])],
["How much did Beatrix Hale's apple peeler cost?", "When did Beatrix Hale die?"])

add("Northwind Bicycles",
"Northwind Bicycles is a small company that builds bicycle frames by hand in the town of Elsford. It was started in 1979 by a former racing cyclist, Karl Østergaard. Each frame is made from steel tubing and takes about 30 hours to build. The company's logo is a white swallow.",
[("Karl Østergaard", ["Who started Northwind Bicycles?", "Northwind Bicycles was founded by which former racing cyclist?", "Which racing cyclist set up Northwind Bicycles?"]),
 ("30 hours", ["How long does it take to build a Northwind frame?", "Each Northwind bicycle frame takes about how many hours to make?", "What is the build time of a Northwind frame?"]),
 ("a white swallow", ["What is the logo of Northwind Bicycles?", "The Northwind Bicycles logo shows what?", "Which bird appears as the Northwind Bicycles logo?"])],
["How many bicycles does Northwind sell each year?", "How much does a Northwind frame cost?"])

add("Marlin Foods",
"Marlin Foods is a canning company located in the fishing port of Brackwater. It was established in 1910 and is best known for its tinned sardines in tomato sauce. The cannery processes around 50 tonnes of fish a day during the peak season. Its tins carry a picture of a blue fishing boat.",
[("Brackwater", ["Where is Marlin Foods located?", "In which fishing port is Marlin Foods based?", "Marlin Foods has its cannery in what port?"]),
 ("tinned sardines", ["What product is Marlin Foods best known for?", "Marlin Foods is famous for which tinned fish?", "Which product in tomato sauce made Marlin Foods well known?"]),
 ("50 tonnes", ["How much fish does the Marlin Foods cannery process each day in peak season?", "In the peak season Marlin processes about how many tonnes of fish a day?", "What is the daily fish intake of the Marlin cannery at its busiest?"])],
["Who founded Marlin Foods?", "How many people work at Marlin Foods?"])

add("Kite Festival of Sandmere",
"The Kite Festival of Sandmere takes place on the beach every July. Up to 300 kites fly at once, some of them shaped like dragons or whales. The largest kite ever flown at the festival was 25 metres long. The event was started in 1983 by a local toy shop owner, Gwen Abbott.",
[("25 metres", ["How long was the largest kite flown at the Sandmere festival?", "What was the length of the biggest kite at the Kite Festival of Sandmere?", "The largest Sandmere festival kite measured how many metres?"]),
 ("1983", ["When did the Kite Festival of Sandmere start?", "In what year was the Sandmere kite festival first held?", "The Kite Festival of Sandmere began in which year?"]),
 ("Gwen Abbott", ["Who started the Kite Festival of Sandmere?", "The Sandmere kite festival was founded by which toy shop owner?", "Which local shopkeeper began the kite festival in Sandmere?"])],
["How many people visit the Kite Festival of Sandmere?", "Who flew the largest kite at the Sandmere festival?"])

add("Hollin Rock ice festival",
"Every winter the town of Hollin Rock holds an ice sculpture festival. Carvers use blocks of ice cut from the frozen lake, each weighing about 130 kilograms. The festival lasts nine days and ends with a parade of lanterns. The prize for the best sculpture is a silver chisel.",
[("130 kilograms", ["How much does each block of ice weigh at the Hollin Rock festival?", "What is the weight of the ice blocks used by carvers in Hollin Rock?", "Each block cut from the frozen lake weighs about how many kilograms?"]),
 ("nine days", ["How long does the Hollin Rock ice sculpture festival last?", "For how many days does the ice festival in Hollin Rock run?", "What is the duration of the Hollin Rock ice festival?"]),
 ("a silver chisel", ["What is the prize for the best sculpture at Hollin Rock?", "The winner of the Hollin Rock ice festival receives what?", "What award goes to the best ice sculpture in Hollin Rock?"])],
["Who won last year's ice sculpture festival in Hollin Rock?", "When was the first ice sculpture festival held in Hollin Rock?"])

add("Kerrish pony",
"The Kerrish pony is a hardy breed from the windswept islands of the north. It stands no more than 12 hands high and has a thick double coat for the cold. Most Kerrish ponies are dun or grey in colour, with a dark stripe along the back. The breed society was formed in 1922 to protect the ponies from crossbreeding.",
[("12 hands", ["How tall is a Kerrish pony?", "What is the maximum height of the Kerrish pony?", "The Kerrish pony stands no more than how many hands high?"]),
 ("dun or grey", ["What colour are most Kerrish ponies?", "Most Kerrish ponies have which coat colours?", "In what colours are Kerrish ponies usually found?"]),
 ("1922", ["When was the Kerrish pony breed society formed?", "In what year was the society for Kerrish ponies founded?", "The Kerrish breed society was created in which year?"])],
["How many Kerrish ponies exist today?", "How long do Kerrish ponies live?"])

add("Sorrel Valley otter",
"The river otter of the Sorrel Valley feeds mainly on eels and crayfish. An adult otter can hold its breath for up to four minutes while hunting. Otters mark their territory with droppings left on rocks, and a single otter's range can stretch for 20 kilometres of riverbank. Their dens, called holts, are dug into the bank among tree roots.",
[("eels and crayfish", ["What does the river otter of the Sorrel Valley mainly eat?", "Sorrel Valley otters feed mainly on what?", "What is the main diet of the Sorrel Valley river otter?"]),
 ("four minutes", ["How long can an adult otter hold its breath?", "An adult Sorrel Valley otter can stay under water for how long?", "For up to how many minutes can an otter hold its breath while hunting?"]),
 ("holts", ["What are otter dens called?", "The dens that Sorrel Valley otters dig are known as what?", "What name is given to the dens of river otters?"])],
["How many otters live in the Sorrel Valley?", "How many cubs does a Sorrel Valley otter have in a litter?"])

add("Amberwick sheep",
"The Amberwick sheep is a rare breed with curled horns and a long, silky fleece of a pale cream colour. A ewe produces about 4 kilograms of wool each year. The breed almost died out in the 1950s, when the number of animals fell to only 37.",
[("pale cream", ["What colour is the fleece of the Amberwick sheep?", "The Amberwick sheep has a fleece of which colour?", "In what colour is an Amberwick fleece?"]),
 ("4 kilograms", ["How much wool does an Amberwick ewe produce each year?", "An Amberwick ewe gives about how many kilograms of wool a year?", "What is the yearly wool yield of an Amberwick ewe?"]),
 ("37", ["How many Amberwick sheep were left in the 1950s?", "To what number did the Amberwick breed fall in the 1950s?", "In the 1950s the Amberwick population dropped to how many animals?"])],
["Where did the Amberwick sheep breed originate?", "How many Amberwick sheep are there today?"])

add("Port Alder",
"Port Alder is a fishing town built around a deep natural harbour. Its fleet of about  60 boats catches mostly mackerel and crab. The harbour wall was built in 1847 and is  topped by a small white beacon. The town's annual regatta is held on the second Sunday of August.",
[("60 boats", ["How many boats are in the Port Alder fleet?", "The fishing fleet of Port Alder numbers about how many boats?", "What is the size of Port Alder's fishing fleet?"]),
 ("1847", ["When was the Port Alder harbour wall built?", "In what year was the harbour wall at Port Alder constructed?", "The harbour wall in Port Alder dates from which year?"]),
 ("the second Sunday of August", ["When is the Port Alder regatta held?", "On what day does Port Alder hold its annual regatta?", "The annual regatta in Port Alder takes place on which day?"])],
["What is the population of Port Alder?", "Who built the harbour wall in Port Alder?"])

add("Vérandel",
"Vérandel is a hilltop village in the south, known for its lavender fields. The village is home to around 400 people and a twelfth-century chapel dedicated to St. Martin. Lavender is harvested in early July and distilled into oil in a copper still on the village square. The still was made in 1890 by a craftsman named André Lussac.",
[("Vérandel", ["Which hilltop village is known for its lavender fields?", "What is the name of the southern hilltop village famous for lavender?", "Which village has a chapel dedicated to St. Martin and a copper lavender still?"]),
 ("St. Martin", ["To whom is the chapel in Vérandel dedicated?", "The twelfth-century chapel in Vérandel is dedicated to which saint?", "Which saint is honoured by Vérandel's chapel?"]),
 ("André Lussac", ["Who made the copper still in Vérandel?", "The copper still on the village square was made by which craftsman?", "Which craftsman built Vérandel's lavender still in 1890?"])],
["How much lavender oil is produced in Vérandel each year?", "Who owns the lavender fields of Vérandel?"])

add("Silverrun",
"The Silverrun is a short, fast river that drops 700 metres in just 18 kilometres. It is popular with kayakers, especially in spring when snowmelt raises the water level. The most dangerous rapid, known as the Kettle, has claimed several boats. A footbridge crosses the river at the hamlet of Greyford.",
[("700 metres", ["How far does the Silverrun drop?", "What is the total fall of the Silverrun?", "The Silverrun descends how many metres?"]),
 ("the Kettle", ["What is the most dangerous rapid on the Silverrun called?", "Which rapid on the Silverrun is the most dangerous?", "The Silverrun's deadliest rapid is known as what?"]),
 ("Greyford", ["Where does a footbridge cross the Silverrun?", "At which hamlet is there a footbridge over the Silverrun?", "The Silverrun footbridge is located at what hamlet?"])],
["What fish live in the Silverrun?", "Where does the Silverrun flow into the sea?"])

add("Whitcombe Suspension Bridge",
"The Whitcombe Suspension Bridge crosses the gorge of the River Elm at a height of 75 metres. It opened in 1864 and was designed by the engineer Charlotte Reyes. The main span is 214 metres long and hangs from iron chains rather than wire cables. A small toll is still charged to cross it by car.",
[("75 metres", ["How high above the gorge is the Whitcombe Suspension Bridge?", "At what height does the Whitcombe bridge cross the River Elm gorge?", "The Whitcombe Suspension Bridge stands how many metres above the gorge?"]),
 ("Charlotte Reyes", ["Who designed the Whitcombe Suspension Bridge?", "The Whitcombe Suspension Bridge was designed by which engineer?", "Which engineer was responsible for the design of the Whitcombe bridge?"]),
 ("iron chains", ["What does the main span of the Whitcombe bridge hang from?", "The Whitcombe main span is suspended from what?", "Instead of wire cables, what holds up the Whitcombe Suspension Bridge?"])],
["How much is the toll on the Whitcombe Suspension Bridge?", "How many cars cross the Whitcombe Suspension Bridge each day?"])

add("Old Packhorse Bridge at Kelby",
"The Old Packhorse Bridge at Kelby is a narrow stone bridge only 1.5 metres wide. It was built in the 1600s so that ponies carrying wool could cross Kelby Beck. The bridge has low walls so the animals' heavy packs would not catch on the sides. It is now used only by walkers.",
[("1.5 metres", ["How wide is the Old Packhorse Bridge at Kelby?", "What is the width of the packhorse bridge at Kelby?", "The Kelby packhorse bridge is only how many metres wide?"]),
 ("Kelby Beck", ["What stream does the Old Packhorse Bridge cross?", "The packhorse bridge at Kelby was built to cross which beck?", "Which watercourse do ponies cross on the Kelby bridge?"]),
 ("walkers", ["Who uses the Old Packhorse Bridge at Kelby today?", "Today the Kelby packhorse bridge is used only by whom?", "Which people still cross the old bridge at Kelby now?"])],
["Who built the Old Packhorse Bridge at Kelby?", "How long is the Old Packhorse Bridge at Kelby?"])

add("Hair hygrometer",
"A hair hygrometer measures the humidity of the air using a strand of human hair. When the air is damp the hair stretches, and when it is dry the hair shrinks. The movement turns a pointer on a dial marked from 0 to 100 per cent. The instrument maker Oskar Brandt sold thousands of them from his shop in Zürich.",
[("human hair", ["What does a hair hygrometer use to measure humidity?", "A hair hygrometer relies on a strand of what?", "Which material senses moisture in a hair hygrometer?"]),
 ("Oskar Brandt", ["Which instrument maker sold thousands of hair hygrometers?", "Who sold hair hygrometers from a shop in Zürich?", "The instrument maker who sold many hygrometers was called what?"]),
 ("Zürich", ["Where was Oskar Brandt's shop?", "In which city did Brandt sell his hygrometers?", "Oskar Brandt's instrument shop was located in what city?"])],
["How accurate is a hair hygrometer?", "When did Oskar Brandt open his shop?"])

add("Corbel sundial",
"The Corbel sundial stands in the garden of Elmhurst Hall. It is carved from a single block of white marble and has a bronze pointer, called a gnomon, 60 centimetres long. A motto around its edge reads, 'I count only the sunny hours.' The sundial was a gift to the hall in 1766.",
[("white marble", ["What is the Corbel sundial carved from?", "The Corbel sundial is made of which stone?", "From what material was the Corbel sundial carved?"]),
 ("gnomon", ["What is the bronze pointer of the Corbel sundial called?", "The pointer on a sundial is known by what name?", "What name is given to the Corbel sundial's bronze pointer?"]),
 ("1766", ["When was the Corbel sundial given to Elmhurst Hall?", "In what year did Elmhurst Hall receive the Corbel sundial?", "The Corbel sundial was a gift to the hall in which year?"])],
["Who carved the Corbel sundial?", "How accurate is the Corbel sundial?"])

add("Kessingen astronomical clock",
"The astronomical clock in the town hall of Kessingen shows the time, the phases of the moon and the signs of the zodiac. It was built in 1541 by the clockmaker Jakob Würz. Every hour a procession of twelve wooden figures passes through a small door above the dial. The clock's face is 3 metres in diameter.",
[("Jakob Würz", ["Who built the Kessingen astronomical clock?", "The astronomical clock in Kessingen was made by which clockmaker?", "Which clockmaker constructed the Kessingen clock in 1541?"]),
 ("twelve wooden figures", ["What passes through the small door above the Kessingen clock's dial every hour?", "Every hour the Kessingen clock shows a procession of what?", "What appears in the hourly procession of the Kessingen clock?"]),
 ("3 metres", ["How large is the face of the Kessingen clock?", "What is the diameter of the Kessingen clock's face?", "The face of the Kessingen astronomical clock is how many metres across?"])],
["How much does it cost to visit the Kessingen clock?", "When was the Kessingen astronomical clock last repaired?"])

add("Fernley Park",
"Fernley Park covers 48 hectares on the edge of the city and was opened to the public in 1887. Its lake, dug by hand, is home to a pair of black swans. The park's bandstand, painted dark green, hosts free concerts on Sunday afternoons in summer. The park was designed by the gardener Lucy Farrant.",
[("48 hectares", ["How large is Fernley Park?", "What area does Fernley Park cover?", "Fernley Park covers how many hectares?"]),
 ("black swans", ["What birds live on the lake in Fernley Park?", "The lake at Fernley Park is home to a pair of what?", "Which birds have their home on Fernley Park's lake?"]),
 ("Lucy Farrant", ["Who designed Fernley Park?", "Fernley Park was designed by which gardener?", "Which gardener laid out Fernley Park?"])],
["How many visitors does Fernley Park receive each year?", "Who paid for Fernley Park to be built?"])

# ---------------------------------------------------------------------------
# Build, validate, write
# ---------------------------------------------------------------------------
import json, re, sys, os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "zoo_text", "data", "qa_demo.json")

def norm_q(q):
    return re.sub(r"\s+", " ", q.strip().lower())

def main():
    errors = []
    data = []
    qid = 0
    n_ans = n_imp = 0
    seen_q = {}
    titles = set()
    for title, ctx, facts, imps in P:
        if title in titles:
            errors.append(f"duplicate title {title}")
        titles.add(title)
        nw = len(ctx.split())
        if not (40 <= nw <= 110):
            errors.append(f"{title}: {nw} words")
        # rough sentence count (ignore abbreviations like St. / U.S. / a.m. / decimals)
        tmp = re.sub(r"\b(St|a\.m|p\.m|U\.S)\.", "X", ctx)
        tmp = re.sub(r"\bU\.S\b", "X", tmp)
        ns = len(re.findall(r"[.!?](?:'|\")?(?:\s|$)", tmp))
        if not (3 <= ns <= 5):
            errors.append(f"{title}: {ns} sentences")
        if len(facts) != 3:
            errors.append(f"{title}: {len(facts)} facts")
        if len(imps) != 2:
            errors.append(f"{title}: {len(imps)} impossible")
        qas = []
        for fact in facts:
            ans, qs = fact[0], fact[1]
            occ = fact[2] if len(fact) > 2 else None
            cnt = ctx.count(ans)
            if cnt == 0:
                errors.append(f"{title}: answer {ans!r} not in context"); continue
            if cnt > 1 and occ is None:
                errors.append(f"{title}: answer {ans!r} occurs {cnt}x"); continue
            start = ctx.find(ans)
            for _ in range(occ or 0):
                start = ctx.find(ans, start + 1)
            if len(ans.split()) > 6:
                errors.append(f"{title}: answer too long {ans!r}")
            if len(qs) != 3:
                errors.append(f"{title}: {len(qs)} questions for {ans!r}")
            for q in qs:
                qid += 1
                qas.append({"id": f"q{qid:04d}", "question": q,
                            "answers": [{"text": ans, "answer_start": start}],
                            "is_impossible": False})
                n_ans += 1
        for q in imps:
            qid += 1
            qas.append({"id": f"q{qid:04d}", "question": q, "answers": [],
                        "is_impossible": True})
            n_imp += 1
        for qa in qas:
            k = norm_q(qa["question"])
            if k in seen_q:
                errors.append(f"duplicate question {qa['question']!r} ({seen_q[k]}, {qa['id']})")
            seen_q[k] = qa["id"]
        data.append({"title": title, "paragraphs": [{"context": ctx, "qas": qas}]})

    if errors:
        print("ERRORS:"); print("\n".join(errors)); sys.exit(1)

    out = {"version": "v2.0", "data": data}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")

    # re-validate from the written file
    with open(OUT, encoding="utf-8") as f:
        d = json.load(f)
    assert d["version"] == "v2.0"
    n_p = n_a = n_i = 0
    ids = []
    qs = set()
    for art in d["data"]:
        for p in art["paragraphs"]:
            n_p += 1
            c = p["context"]
            for qa in p["qas"]:
                ids.append(qa["id"])
                assert qa["question"] not in qs, qa["question"]
                qs.add(qa["question"])
                if qa["is_impossible"]:
                    assert qa["answers"] == []
                    n_i += 1
                else:
                    assert len(qa["answers"]) == 1
                    for a in qa["answers"]:
                        s = a["answer_start"]
                        assert c[s:s + len(a["text"])] == a["text"], (qa["id"], a)
                    n_a += 1
    assert ids == [f"q{i:04d}" for i in range(1, len(ids) + 1)], "ids not sequential"
    assert len(set(ids)) == len(ids)
    print(f"passages={n_p} answerable={n_a} unanswerable={n_i} total={n_a + n_i}")
    print(f"wrote {OUT}")

if __name__ == "__main__":
    main()
