"""Word lists the data generator draws from: varied names, places, companies, tags (with weights)."""

from __future__ import annotations

FIRST_NAMES = """
Anna Lena Marie Sophie Emma Mia Hannah Laura Julia Sarah Lisa Katharina Johanna Clara Greta Paula Ida Frieda
Lukas Leon Finn Jonas Paul Felix Maximilian Elias Noah Ben Luis Tim Jan Niklas David Moritz Tobias Matthias
Stefan Thomas Michael Andreas Markus Christian Daniel Sebastian Florian Alexander Philipp Julian Simon Fabian
James John Robert William Richard Joseph Charles Christopher Matthew Anthony Mark Steven Andrew Joshua Kevin
Brian George Edward Ronald Timothy Jason Jeffrey Ryan Jacob Gary Eric Jonathan Stephen Larry Justin Scott
Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Karen Nancy Betty Margaret Sandra Ashley Emily
Donna Michelle Carol Amanda Melissa Deborah Stephanie Rebecca Sharon Cynthia Kathleen Amy Angela Shirley
Olivia Amelia Isla Ava Ella Grace Freya Charlotte Poppy Evie Harry Oliver Jack Charlie Thomas Oscar Alfie
Jeanne Camille Chloe Manon Ines Lea Louise Jade Hugo Gabriel Arthur Raphael Louis Jules Adam Mael Lucas
Sofia Giulia Aurora Alice Ginevra Beatrice Leonardo Francesco Alessandro Lorenzo Mattia Andrea Gabriele Riccardo
Lucia Martina Valentina Carmen Pilar Rocio Alejandro Pablo Javier Sergio Diego Manuel Carlos Miguel Jose
Sven Lars Erik Nils Anders Ingrid Astrid Sigrid Freja Maja Elin Linnea Oskar Axel Hugo
Jakub Kacper Szymon Filip Zuzanna Julia Zofia Maja Aleksandra Wojciech Piotr Krzysztof Agnieszka Katarzyna
Joao Pedro Gustavo Rafael Matheus Ana Beatriz Mariana Larissa Fernanda Camila Rodrigo
Hiroshi Takashi Kenji Yuki Haruto Sota Yui Hina Sakura Aoi Ren Riku Emi Naoko
Wei Fang Lei Jing Min Hao Yan Xin Tao Li Na Jun Ying Ming Hui
Aarav Vihaan Arjun Aditya Sai Priya Ananya Diya Isha Kavya Rohan Rahul Neha Pooja Vikram Sanjay
Noor Omar Yusuf Fatima Aisha Layla Zainab Hamza Karim Samir Leila Amir
Jose Jürgen Jörg Björn Søren Zoë Chloé Hélène Renée Thérèse François Ángel Andrés Inés Łukasz Michał
""".split()

LAST_NAMES = """
Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer Richter Klein
Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Schmitt Werner Schmitz Krause
Meier Lehmann Schmid Schulze Maier Köhler Herrmann König Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson
Anderson Taylor Thomas Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis
Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera
Campbell Mitchell Carter Roberts Evans Turner Phillips Parker Collins Edwards Stewart Morris Murphy Cook
Rogers Morgan Cooper Peterson Reed Bailey Bell Gomez Kelly Howard Ward Cox Diaz Richardson Wood Watson
Bernard Dubois Durand Lefebvre Leroy Moreau Simon Laurent Michel Lefevre Garnier Faure Rousseau Blanc
Guerin Muller Henry Roussel Nicolas Perrin Morin Mathieu Clement Gauthier Dumont Lopez Fontaine Chevalier
Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti DeLuca Mancini
Costa Giordano Rizzo Lombardi Moretti Fernandez Gonzalez Rodriguez Sanchez Perez Martin Gomez Ruiz Hernandez
Jimenez Diaz Moreno Alvarez Munoz Romero Alonso Gutierrez Navarro Torres Dominguez Vazquez Ramos Gil
Jansen DeVries VanDijk Bakker Visser Smit Meijer DeBoer Mulder DeGroot Bos Vos Peters Hendriks
Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson Pettersson
Nowak Kowalski Wisniewski Wojcik Kowalczyk Kaminski Lewandowski Zielinski Szymanski Wozniak Dabrowski
Silva Santos Oliveira Souza Rodrigues Ferreira Alves Pereira Lima Gomes Ribeiro Carvalho Almeida
Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida Yamada Sasaki
Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Luo
Sharma Verma Gupta Patel Singh Kumar Reddy Iyer Nair Mehta Shah Joshi Das Rao Chopra Kapoor
Haddad Khalil Nasser Saleh Hassan Aziz Rahman Karimi Hosseini Yilmaz Kaya Demir Celik Sahin Ozturk
Müller-Lüdenscheidt O'Brien O'Connor McDonald MacLeod D'Angelo Łukasiewicz Øvergaard Ødegaard Ångström
""".split()

COMPANY_WORDS = """
Acme Globex Initech Umbrella Stark Wayne Wonka Tyrell Cyberdyne Hooli Vandelay Soylent Aperture Massive
Nakatomi Oscorp Gringotts Monarch Virtucon Dunder Sterling Pied Blue Green Red North South East West
Alpine Atlas Aurora Beacon Cedar Delta Echo Falcon Granite Harbor Horizon Iron Juniper Keystone Lumen
Maple Meridian Nimbus Nova Oak Orion Pacific Pioneer Quantum Summit Titan Vertex Zenith Polar Solar
""".split()
COMPANY_SUFFIXES = ["GmbH", "AG", "Inc.", "LLC", "Ltd", "SAS", "S.p.A.", "BV", "AB", "Sp. z o.o.", "KK",
                    "Co.", "Group", "Holding", "Labs", "Systems", "Solutions", "Consulting", "Logistics", "Foods"]
INDUSTRIES = ["software", "manufacturing", "retail", "logistics", "healthcare", "finance", "insurance",
              "education", "energy", "construction", "media", "hospitality", "telecom", "automotive", "legal"]
RELATIONSHIPS = ["customer", "prospect", "partner", "supplier", "distributor", "competitor", "other"]

# (code, weight, dialling prefix, [(city, region, postal code pattern)])
COUNTRIES = [
    ("DE", 22, "+49", [("Berlin", "Berlin", "10###"), ("Hamburg", "Hamburg", "20###"),
                       ("München", "Bayern", "80###"), ("Köln", "Nordrhein-Westfalen", "50###"),
                       ("Frankfurt am Main", "Hessen", "60###"), ("Stuttgart", "Baden-Württemberg", "70###"),
                       ("Düsseldorf", "Nordrhein-Westfalen", "40###"), ("Leipzig", "Sachsen", "04###")]),
    ("US", 20, "+1", [("New York", "NY", "100##"), ("San Francisco", "CA", "941##"), ("Austin", "TX", "787##"),
                      ("Chicago", "IL", "606##"), ("Seattle", "WA", "981##"), ("Boston", "MA", "021##")]),
    ("GB", 9, "+44", [("London", "England", "EC1A #AA"), ("Manchester", "England", "M# #AB"),
                      ("Edinburgh", "Scotland", "EH# #CD"), ("Bristol", "England", "BS# #EF")]),
    ("FR", 8, "+33", [("Paris", "Île-de-France", "750##"), ("Lyon", "Auvergne-Rhône-Alpes", "690##"),
                      ("Marseille", "Provence-Alpes-Côte d'Azur", "130##"), ("Toulouse", "Occitanie", "310##")]),
    ("ES", 5, "+34", [("Madrid", "Madrid", "280##"), ("Barcelona", "Cataluña", "080##"),
                      ("Valencia", "Valencia", "460##")]),
    ("IT", 5, "+39", [("Milano", "Lombardia", "201##"), ("Roma", "Lazio", "001##"), ("Torino", "Piemonte", "101##")]),
    ("NL", 4, "+31", [("Amsterdam", "Noord-Holland", "10## AB"), ("Rotterdam", "Zuid-Holland", "30## CD"),
                      ("Utrecht", "Utrecht", "35## EF")]),
    ("AT", 3, "+43", [("Wien", "Wien", "1###"), ("Graz", "Steiermark", "8###"), ("Linz", "Oberösterreich", "4###")]),
    ("CH", 3, "+41", [("Zürich", "Zürich", "8###"), ("Genève", "Genève", "12##"), ("Basel", "Basel-Stadt", "40##")]),
    ("SE", 2, "+46", [("Stockholm", "Stockholm", "11# ##"), ("Göteborg", "Västra Götaland", "41# ##")]),
    ("PL", 3, "+48", [("Warszawa", "Mazowieckie", "00-###"), ("Kraków", "Małopolskie", "30-###")]),
    ("BR", 3, "+55", [("São Paulo", "SP", "01###-###"), ("Rio de Janeiro", "RJ", "20###-###")]),
    ("JP", 3, "+81", [("Tokyo", "Tokyo", "100-####"), ("Osaka", "Osaka", "530-####")]),
    ("CN", 3, "+86", [("Shanghai", "Shanghai", "200###"), ("Beijing", "Beijing", "100###"),
                      ("Shenzhen", "Guangdong", "518###")]),
    ("IN", 3, "+91", [("Bengaluru", "Karnataka", "560###"), ("Mumbai", "Maharashtra", "400###")]),
    ("CA", 2, "+1", [("Toronto", "ON", "M5V #A#"), ("Vancouver", "BC", "V6B #C#")]),
    ("AU", 2, "+61", [("Sydney", "NSW", "2###"), ("Melbourne", "VIC", "3###")]),
]

STREETS = ["Hauptstraße", "Bahnhofstraße", "Main Street", "High Street", "Rue de la Paix", "Via Roma",
           "Calle Mayor", "Kerkstraat", "Storgatan", "ul. Długa", "Rua Augusta", "Market Street", "Lindenallee",
           "Oak Avenue", "Broadway", "Königsallee", "Gartenweg", "Park Lane", "Avenue des Champs", "Ringstraße"]

# (tag, share of contacts that carry it): a long tail, as real tagging goes.
TAGS = [("newsletter", 0.30), ("webinar-2026", 0.12), ("trade-show", 0.08), ("vip", 0.05), ("enterprise", 0.07),
        ("smb", 0.10), ("startup", 0.04), ("decision-maker", 0.06), ("partner", 0.03), ("referral", 0.03),
        ("churn-risk", 0.02), ("upsell", 0.02), ("renewal", 0.02), ("beta", 0.01), ("influencer", 0.005),
        ("key-account", 0.01), ("cold", 0.05), ("warm", 0.04), ("hot", 0.015), ("event-berlin", 0.01),
        ("event-london", 0.008), ("gdpr-consent", 0.20), ("do-not-call", 0.02), ("press", 0.003)]

LIFECYCLE = [("subscriber", 25), ("lead", 30), ("opportunity", 12), ("customer", 20), ("evangelist", 3),
             ("other", 5), (None, 5)]
SOURCES = [("web-form", 30), ("import", 20), ("referral", 8), ("event", 10), ("linkedin", 10), ("cold-call", 5),
           ("partner", 5), ("api", 7), (None, 5)]
JOB_TITLES = ["CEO", "CTO", "CFO", "COO", "Head of Sales", "Sales Manager", "Account Executive", "Marketing Manager",
              "Head of Marketing", "Product Manager", "Software Engineer", "Procurement Lead", "Office Manager",
              "Consultant", "Managing Director", "Geschäftsführer", "Einkaufsleiter", "Directeur commercial",
              "Responsabile acquisti", "Project Manager", "Operations Manager", "HR Manager", "Buyer", None]
FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "gmx.de", "web.de", "icloud.com", "proton.me", "orange.fr",
             "libero.it", "qq.com", "hotmail.co.uk", "t-online.de"]
