/**
 * Human descriptions and example utterances for the 60 MASSIVE intents, written for IntentQL (not
 * taken from the dataset, whose texts stay out of the repo). Keyed by label name; the edge joins
 * them with the bundle's labels.json, and a test checks every label has an entry.
 */
export interface IntentDoc {
  description: string;
  examples: string[];
}

export const MASSIVE_INTENT_DOCS: Record<string, IntentDoc> = {
  alarm_query: {
    description: "Ask which alarms are set or when one will ring.",
    examples: ["what alarms do i have tomorrow", "is my alarm on for six thirty"],
  },
  alarm_remove: {
    description: "Delete or turn off an alarm.",
    examples: ["please cancel my alarm", "turn off the alarm for monday morning"],
  },
  alarm_set: {
    description: "Create an alarm or a wake-up call.",
    examples: ["wake me up at nine am on friday", "set an alarm for seven tomorrow"],
  },
  audio_volume_down: {
    description: "Make the device quieter.",
    examples: ["turn it down a bit", "lower the volume please"],
  },
  audio_volume_mute: {
    description: "Silence the device.",
    examples: ["mute the speaker", "be quiet for a while"],
  },
  audio_volume_other: {
    description: "Any other change to volume or sound settings.",
    examples: ["set the volume to level five", "change the sound to balanced"],
  },
  audio_volume_up: {
    description: "Make the device louder.",
    examples: ["turn the volume up", "i can't hear you, speak louder"],
  },
  calendar_query: {
    description: "Ask about events, meetings or reminders in the calendar.",
    examples: ["what's on my calendar this afternoon", "do i have a meeting with anna today"],
  },
  calendar_remove: {
    description: "Delete an event or reminder from the calendar.",
    examples: ["cancel tomorrow's dentist appointment", "clear my calendar for friday"],
  },
  calendar_set: {
    description: "Add an event or a reminder to the calendar.",
    examples: ["remind me to call mom at five", "schedule lunch with sam on tuesday"],
  },
  cooking_query: {
    description: "Ask a cooking question other than for a recipe (times, temperatures, substitutes).",
    examples: ["how long do i boil an egg", "what can i use instead of butter"],
  },
  cooking_recipe: {
    description: "Ask for a recipe or how to make a dish.",
    examples: ["give me a recipe for pancakes", "how do i make chicken curry"],
  },
  datetime_convert: {
    description: "Convert a time between time zones or formats.",
    examples: ["what is three pm eastern in london time", "convert noon pst to cet"],
  },
  datetime_query: {
    description: "Ask the current date, time or day.",
    examples: ["what time is it", "what's the date today"],
  },
  email_addcontact: {
    description: "Save an email address or a person to the contacts.",
    examples: ["add this address to my contacts", "save john's new email"],
  },
  email_query: {
    description: "Ask about received emails.",
    examples: ["do i have new emails", "did my boss write to me today"],
  },
  email_querycontact: {
    description: "Look up a contact's details.",
    examples: ["what is sarah's phone number", "show me the contact info for my landlord"],
  },
  email_sendemail: {
    description: "Write, reply to or send an email.",
    examples: ["send an email to the team about the delay", "reply to dad's message"],
  },
  general_greet: {
    description: "Greetings and small talk openers.",
    examples: ["hello there", "good morning, how are you"],
  },
  general_joke: {
    description: "Ask for a joke.",
    examples: ["tell me a joke", "say something funny"],
  },
  general_quirky: {
    description: "Chit-chat and odd questions with no practical task behind them.",
    examples: ["do you dream", "what's your favourite colour"],
  },
  iot_cleaning: {
    description: "Control a cleaning robot or vacuum.",
    examples: ["start the vacuum", "have the robot clean the kitchen"],
  },
  iot_coffee: {
    description: "Make coffee with a connected machine.",
    examples: ["make me an espresso", "brew a pot of coffee"],
  },
  iot_hue_lightchange: {
    description: "Change the colour or scene of smart lights.",
    examples: ["make the lights blue", "change the bedroom lights to a warm colour"],
  },
  iot_hue_lightdim: {
    description: "Dim smart lights.",
    examples: ["dim the lights", "lower the lights in the living room"],
  },
  iot_hue_lightoff: {
    description: "Turn smart lights off.",
    examples: ["turn off the lights", "switch the hallway light off"],
  },
  iot_hue_lighton: {
    description: "Turn smart lights on.",
    examples: ["turn on the kitchen light", "lights on please"],
  },
  iot_hue_lightup: {
    description: "Make smart lights brighter.",
    examples: ["brighten the lights", "make it brighter in here"],
  },
  iot_wemo_off: {
    description: "Turn a smart plug or socket off.",
    examples: ["turn off the smart plug", "switch off the heater socket"],
  },
  iot_wemo_on: {
    description: "Turn a smart plug or socket on.",
    examples: ["turn on the fan plug", "power up the smart socket"],
  },
  lists_createoradd: {
    description: "Create a list or add an item to one.",
    examples: ["add milk to my shopping list", "start a new packing list"],
  },
  lists_query: {
    description: "Ask what lists exist or what a list holds.",
    examples: ["what's on my shopping list", "read me my to do list"],
  },
  lists_remove: {
    description: "Remove an item from a list, or delete a list.",
    examples: ["take eggs off the grocery list", "delete my packing list"],
  },
  music_dislikeness: {
    description: "Say that you dislike a song, artist or genre.",
    examples: ["i don't like this song", "never play that band again"],
  },
  music_likeness: {
    description: "Say that you like a song, artist or genre.",
    examples: ["i love this track", "remember that i like jazz"],
  },
  music_query: {
    description: "Ask about the music playing or about songs and artists.",
    examples: ["what song is this", "who sings this one"],
  },
  music_settings: {
    description: "Change playback settings such as shuffle or repeat.",
    examples: ["turn on shuffle", "repeat this song"],
  },
  news_query: {
    description: "Ask for news.",
    examples: ["what's the latest news", "any headlines about the election"],
  },
  play_audiobook: {
    description: "Play or resume an audiobook.",
    examples: ["resume my audiobook", "play the next chapter of my book"],
  },
  play_game: {
    description: "Start a game.",
    examples: ["let's play a game", "start a trivia quiz"],
  },
  play_music: {
    description: "Play music: a song, artist, album, playlist or genre.",
    examples: ["play some jazz", "put on my workout playlist"],
  },
  play_podcasts: {
    description: "Play a podcast or an episode.",
    examples: ["play the latest episode of my podcast", "next podcast episode"],
  },
  play_radio: {
    description: "Play a radio station.",
    examples: ["put on the radio", "tune in to the classical station"],
  },
  qa_currency: {
    description: "Ask about exchange rates or convert money.",
    examples: ["how many yen is ten dollars", "what's the euro exchange rate"],
  },
  qa_definition: {
    description: "Ask what a word means.",
    examples: ["define serendipity", "what does ephemeral mean"],
  },
  qa_factoid: {
    description: "Ask a general-knowledge question.",
    examples: ["how tall is mount everest", "who wrote pride and prejudice"],
  },
  qa_maths: {
    description: "Ask for a calculation.",
    examples: ["what is twelve times eight", "square root of eighty one"],
  },
  qa_stock: {
    description: "Ask about stock prices or markets.",
    examples: ["how is apple stock doing", "what did the market close at"],
  },
  recommendation_events: {
    description: "Ask for events or things to do.",
    examples: ["any concerts this weekend", "what's happening in town tonight"],
  },
  recommendation_locations: {
    description: "Ask for a place to go: shops, restaurants, venues.",
    examples: ["find a good sushi place nearby", "where is the closest pharmacy"],
  },
  recommendation_movies: {
    description: "Ask for a film to watch.",
    examples: ["recommend a good comedy", "what movie should i watch tonight"],
  },
  social_post: {
    description: "Post to social media or complain to a company online.",
    examples: ["post this photo to my feed", "tweet that the train is late again"],
  },
  social_query: {
    description: "Ask about social media updates.",
    examples: ["any new posts from my friends", "what's trending right now"],
  },
  takeaway_order: {
    description: "Order food for delivery or pickup.",
    examples: ["order a pizza", "get me thai food delivered"],
  },
  takeaway_query: {
    description: "Ask about a takeaway order or whether a place delivers.",
    examples: ["where is my food order", "does the burger place deliver"],
  },
  transport_query: {
    description: "Ask about trains, buses or flights (times, status).",
    examples: ["when is the next train to boston", "is my flight on time"],
  },
  transport_taxi: {
    description: "Book a taxi or ride.",
    examples: ["call me a cab", "book a ride to the airport"],
  },
  transport_ticket: {
    description: "Book a ticket for a train, bus or flight.",
    examples: ["book a train ticket to paris", "buy a bus ticket for tomorrow"],
  },
  transport_traffic: {
    description: "Ask about traffic on a route.",
    examples: ["how's the traffic on the way to work", "any jams on the highway"],
  },
  weather_query: {
    description: "Ask about the weather.",
    examples: ["will it rain tomorrow", "what's the weather like in chicago"],
  },
};
